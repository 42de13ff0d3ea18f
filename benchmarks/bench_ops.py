#!/usr/bin/env python
"""Cost per Lua operation in the VM against native Lua 5.4: where the engine gap is.

    python benchmarks/bench_ops.py [--reps 7] [--n 3000000]

Each row is a loop of N iterations around one operation (a bare loop, a Lua
call, a C call, a field read, an `__index` chain, ...), run by `LuaVM.eval`
and by native Lua 5.4.8 (lupa's lua54), interleaved, after one warm-up; a full
GC precedes every run. The figure is the median thread CPU time per
iteration, and its ratio to native. bench_engine.py's workloads mix these
operations; this table says which of them carries the gap. Markdown on
stdout, progress on stderr.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_engine as be  # noqa: E402

OPS = [
    ("loop", "`for` loop with one integer addition",
     "local x = 0 for i = 1, N do x = x + i end return x"),
    ("lua_call", "call of a one-line Lua function",
     "local function f(a) return a end local x = 0 for i = 1, N do x = x + f(i) end return x"),
    ("c_call", "call of a C function (`math.abs`)",
     "local abs = math.abs local x = 0 for i = 1, N do x = x + abs(i) end return x"),
    ("method", "method call `o:get()` reading a field",
     "local o = {v = 1} function o:get() return self.v end "
     "local x = 0 for i = 1, N do x = x + o:get() end return x"),
    ("getfield", "field read `t.a`",
     "local t = {a = 1} local x = 0 for i = 1, N do x = x + t.a end return x"),
    ("index_chain", "field read through `__index` (a table)",
     "local t = setmetatable({}, {__index = {a = 1}}) local x = 0 for i = 1, N do x = x + t.a end return x"),
    ("global_read", "global read `math` (through `_ENV`)",
     "local x = 0 for i = 1, N do if math then x = x + 1 end end return x"),
    ("pairs", "one step of `for k, v in pairs(t)` (a C iterator, `next`)",
     "local t = {} for i = 1, 1000 do t[i] = i t['k' .. i] = i end "
     "local x = 0 for r = 1, N // 2000 do for _, v in pairs(t) do x = x + v end end return x"),
    ("ipairs", "one step of `for i, v in ipairs(t)`",
     "local t = {} for i = 1, 1000 do t[i] = i end "
     "local x = 0 for r = 1, N // 1000 do for _, v in ipairs(t) do x = x + v end end return x"),
    ("len_append", "`t[#t + 1] = i`",
     "local t = {} for i = 1, N do t[#t + 1] = i end return #t"),
    ("closure_new", "a new closure per iteration (allocation, GC)",
     "local x = 0 for i = 1, N do local f = function() return i end x = x + 1 end return x"),
    ("table_new", "a new one-element table per iteration (allocation, GC)",
     "local x = 0 for i = 1, N do local t = {i} x = x + 1 end return x"),
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--n", type=int, default=3_000_000)
    ap.add_argument("--memory-mb", type=int, default=256, help="VM memory (len_append keeps N integers)")
    args = ap.parse_args(argv)
    engines = [be.WasmEngine(args.memory_mb, be.make_runtime(), "lua-wasm"), be.NativeEngine()]
    rows = []
    for name, what, body in OPS:
        code = f"local N = {args.n}\n{body}"
        values = [be.time_once(e, code)[0] for e in engines]
        if values[0] != values[1]:
            raise RuntimeError(f"{name}: results differ: {values!r}")
        timings = [be.Timing() for _ in engines]
        for rep in range(args.reps):
            for i in ((0, 1) if rep % 2 else (1, 0)):
                _, wall, cpu = be.time_once(engines[i], code)
                timings[i].add(wall, cpu)
        vm, native = (t.median_cpu * 1e9 / args.n for t in timings)
        be.log(f"  {name:12s} lua-wasm {vm:6.1f} ns  native {native:6.1f} ns  ({vm / native:.2f})")
        rows.append((name, what, vm, native))
    lines = [
        "## Engine: cost per operation vs native",
        "",
        f"`python benchmarks/bench_ops.py`: a loop of {args.n:,} iterations around one operation, run by "
        f"`LuaVM.eval` and by native Lua 5.4.8 (lupa's `lua54`), {args.reps} interleaved runs after a warm-up; "
        "median thread CPU time per iteration (the loop's own cost included); ratio = lua-wasm / native.",
        "",
        "| operation | what | lua-wasm (ns) | native (ns) | ratio | extra over native (ns) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, what, vm, native in rows:
        lines.append(f"| {name} | {what} | {vm:.1f} | {native:.1f} | {vm / native:.2f}× | {vm - native:.1f} |")
    ratios = [vm / native for _, _, vm, native in rows]
    lines += ["", f"- Geometric mean of the ratios: {be.geomean(ratios):.2f}×."]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
