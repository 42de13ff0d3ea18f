#!/usr/bin/env python
"""Instructions executed per workload, per lua.wasm variant, under valgrind.

    python benchmarks/count_instructions.py base=/tmp/a/lua.wasm new=lua_wasm_kernel/lua.wasm
    python benchmarks/count_instructions.py --scale 0.1 --lua loop.lua base=... new=...

Each variant is NAME=PATH. For every bench_engine.py workload (and every
--lua file), one run in a LuaVM is counted by valgrind's cachegrind, minus
the same process with no workload; the figure is millions of instructions.
Unlike time, the count hardly moves between runs (about ±2 % on table-heavy
workloads, since Lua's string hash seed varies), so it resolves changes the
2-core machine's timing noise hides. Each variant's compiled module is cached
under valgrind first (its CPU features differ from the host's, so a host cache
would be recompiled inside every count). Needs `valgrind` on PATH. Markdown on
stdout, progress on stderr; like compare_variants.py it takes its variants as
arguments, so run_all.py does not run it and docs/BENCHMARKS.md quotes it by hand.
"""
from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_engine as be  # noqa: E402

# The child: run one chunk (or none) in a LuaVM over the given module and cache.
CHILD = """
import sys, pathlib
sys.path.insert(0, sys.argv[1])
from lua_wasm_kernel import vm
wasm, cache, chunk = pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3]), sys.argv[4]
v = vm.LuaVM(memory_bytes=32 << 20, runtime=vm.Runtime(wasm_path=wasm, cache_dir=cache))
res = v.eval(chunk or "return 1")
if not res.ok:
    sys.exit(f"the chunk failed: {res.error}")
"""
I_REFS = re.compile(r"I\s+refs:\s+([\d,]+)")


def count(wasm: Path, cache: Path, chunk: str) -> int:
    proc = subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
         sys.executable, "-c", CHILD, str(be.ROOT), str(wasm), str(cache), chunk],
        capture_output=True, text=True,
    )
    found = I_REFS.search(proc.stderr)
    if proc.returncode != 0 or not found:
        raise RuntimeError(f"valgrind run failed ({proc.returncode}): {proc.stderr[-800:]}")
    return int(found.group(1).replace(",", ""))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("variants", nargs="+", help="NAME=PATH of a lua.wasm; the first is the reference")
    ap.add_argument("--scale", type=float, default=0.1, help="workload size factor (default 0.1)")
    ap.add_argument("--lua", type=Path, action="append", default=[], help="also count this Lua file")
    args = ap.parse_args(argv)
    if shutil.which("valgrind") is None:
        ap.error("valgrind is not installed (Debian: apt-get install valgrind)")
    variants = []
    for spec in args.variants:
        name, _, path = spec.partition("=")
        if not path or not Path(path).is_file():
            ap.error(f"{spec!r}: expected NAME=PATH of an existing lua.wasm")
        variants.append((name, Path(path)))
    chunks = [(w.name, w.chunk(args.scale)) for w in be.WORKLOADS]
    chunks += [(f.name, f.read_text()) for f in args.lua]
    with tempfile.TemporaryDirectory() as tmp:
        caches, base = {}, {}
        for name, wasm in variants:
            caches[name] = Path(tmp) / hashlib.sha1(wasm.read_bytes()).hexdigest()[:12]
            be.log(f"{name}: compiling under valgrind, then the empty run")
            count(wasm, caches[name], "")  # fills the cache; not counted
            base[name] = count(wasm, caches[name], "")
        rows = []
        for label, chunk in chunks:
            counts = [(count(wasm, caches[name], chunk) - base[name]) / 1e6 for name, wasm in variants]
            be.log(f"  {label:14s} " + "  ".join(f"{n} {c:8.1f}" for (n, _), c in zip(variants, counts)))
            rows.append((label, counts))
    names = [n for n, _ in variants]
    print(f"Millions of instructions per workload at {args.scale}× size (valgrind cachegrind, "
          "minus the process with no workload)\n")
    print("| workload | " + " | ".join(names) + (f" | {names[-1]} / {names[0]} |" if len(names) > 1 else " |"))
    print("|---|" + "---:|" * (len(names) + (len(names) > 1)))
    for label, counts in rows:
        ratio = f" {counts[-1] / counts[0]:.2f} |" if len(names) > 1 and counts[0] else ""
        print(f"| {label} | " + " | ".join(f"{c:.1f}" for c in counts) + " |" + ratio)
    return 0


if __name__ == "__main__":
    sys.exit(main())
