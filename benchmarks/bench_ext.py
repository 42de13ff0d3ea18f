#!/usr/bin/env python
"""External tables and snapshots: Lua's ext.table get/set rate, persisting and
loading a 100,000-item table, whole-VM snapshot save and restore at 2 MB.

    python benchmarks/bench_ext.py              # markdown on stdout
    python benchmarks/bench_ext.py --reps 3

Each figure is the median of `--reps` runs after one untimed warm-up. The
get/set rates are whole Lua loops timed from Python (`LuaVM.eval`), so they
include the loop and the metamethod dispatch, as a user's code pays them.
Files go to a temporary folder on the same file system as /tmp, with fsync,
as the kernel writes them. Progress goes to stderr; stdout is the markdown
section that `benchmarks/run_all.py` splices into docs/BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from lua_wasm_kernel import ext_tables  # noqa: E402
from lua_wasm_kernel.persistence import Checkpoints, TableFiles  # noqa: E402
from lua_wasm_kernel.snapshot import Snapshots  # noqa: E402
from lua_wasm_kernel.vm import LuaVM, Runtime  # noqa: E402

OPS = 200_000
GOAL_OPS = 200_000
GOAL_PERSIST_MS = 300
GOAL_SNAPSHOT_MS = 50
ITEMS = 100_000


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run_times(fn: Callable[[], object], reps: int, setup: Callable[[], object] | None = None) -> list[float]:
    """Seconds of `reps` timed runs after one untimed warm-up."""
    if setup:
        setup()
    fn()  # warm-up
    times = []
    for _ in range(reps):
        if setup:
            setup()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def median_seconds(fn: Callable[[], object], reps: int, setup: Callable[[], object] | None = None) -> float:
    return statistics.median(run_times(fn, reps, setup))


def eval_ok(vm: LuaVM, code: str) -> None:
    r = vm.eval(code)
    if not r.ok:
        raise RuntimeError(f"{code!r}: {r.error}")


def lua_rates(runtime: Runtime, reps: int) -> list[tuple[str, float, float]]:
    """Operations per second of Lua loops over an external table."""
    vm = LuaVM(runtime=runtime)
    eval_ok(vm, "t = ext.table('bench') keys = {} for i = 1, 1000 do keys[i] = 'key' .. i end")
    quarter = OPS // 4
    loops = [  # (label, code, operations)
        ("set, integer key and value: `t[i] = i`", f"local t = t for i = 1, {OPS} do t[i] = i end", OPS),
        ("get, integer key: `x = t[i]`", f"local t, x = t for i = 1, {OPS} do x = t[i] end", OPS),
        ("set, string key (from a local array), string value",
         f"local t, keys = t, keys for i = 1, {OPS} do t[keys[i % 1000 + 1]] = 'value' end", OPS),
        ("get, string key", f"local t, keys, x = t, keys for i = 1, {OPS} do x = t[keys[i % 1000 + 1]] end", OPS),
        ("set, small table value `{i, 'x', k = true}`",
         f"local t = t for i = 1, {quarter} do t[i] = {{i, 'x', k = true}} end", quarter),
        ("get, small table value", f"local t, x = t for i = 1, {quarter} do x = t[i] end", quarter),
        ("`#t`, 200,000 integer keys", f"local t, n = t for i = 1, {quarter} do n = #t end", quarter),
        ("`pairs(t)`, per pair", "local n = 0 for k, v in pairs(t) do n = n + 1 end", OPS + 1000),
        ("a local Lua table, for scale: `l[i % 1000] = i`",
         f"local l = {{}} for i = 1, {OPS} do l[i % 1000] = i end", OPS),
    ]
    rates = []
    for label, code, ops in loops:
        times = run_times(lambda code=code: eval_ok(vm, code), reps)
        rates.append((label, ops / statistics.median(times), ops / min(times)))
        log(f"  {label}: {ops / statistics.median(times):,.0f}/s (best {ops / min(times):,.0f}/s)")
    return rates


def crossing_rates(runtime: Runtime, reps: int) -> list[tuple[str, float]]:
    """The alternatives the design rejected, measured the same way."""
    n = 20_000
    vm = LuaVM(runtime=runtime)
    vm.register_host_function("noop", lambda *args: None)
    eval_ok(vm, "hc = debug.getregistry()['lua_wasm.prelude'].host_call")
    generic = n / median_seconds(lambda: eval_ok(vm, f"local hc = hc for i = 1, {n} do hc('noop', i) end"), reps)
    saved = ext_tables._unchecked
    ext_tables._unchecked = None  # ordinary wasmtime-py host functions
    try:
        slow = LuaVM(runtime=runtime)
    finally:
        ext_tables._unchecked = saved
    assert not slow.ext.fast_imports
    eval_ok(slow, "t = ext.table('slow')")
    slow_set = n / median_seconds(lambda: eval_ok(slow, f"local t = t for i = 1, {n} do t[i] = i end"), reps)
    slow_get = n / median_seconds(lambda: eval_ok(slow, f"local t, x = t for i = 1, {n} do x = t[i] end"), reps)
    return [
        ("generic host call (`host_call(name, ...)`, a no-op function)", generic),
        ("ext set through ordinary wasmtime-py imports", slow_set),
        ("ext get through ordinary wasmtime-py imports", slow_get),
    ]


def persistence_times(runtime: Runtime, folder: Path, reps: int) -> dict[str, float]:
    vm = LuaVM(runtime=runtime)
    cp = Checkpoints(vm, folder / "store")
    eval_ok(vm, f"local t = ext.table('big') for i = 1, {ITEMS} do t[i] = 'value number ' .. i end")
    cp.persist()
    table = vm.ext.tables["big"]
    persist = median_seconds(cp.persist, reps, setup=lambda: setattr(table, "dirty", True))
    size = cp.files.path_for("big").stat().st_size
    files = TableFiles(folder / "store", log)
    load_files = median_seconds(lambda: dict(files.load_all()), reps)

    def first_use() -> None:  # a new kernel's first `ext` call: loads every table
        fresh = LuaVM(runtime=runtime)
        Checkpoints(fresh, folder / "store")
        eval_ok(fresh, "assert(#ext.table('big') == 100000)")

    start_vm = median_seconds(lambda: LuaVM(runtime=runtime), reps)
    first = median_seconds(first_use, reps) - start_vm
    return {"persist": persist, "size": size, "load": load_files, "first_use": first}


def snapshot_times(runtime: Runtime, folder: Path, reps: int) -> list[tuple[str, float, float, int]]:
    rows = []
    states = [
        ("a fresh VM", ""),
        ("about 1 MB of live Lua data", "keep = {} for i = 1, 9000 do keep[i] = {i, tostring(i) .. ' some text'} end"),
    ]
    for label, code in states:
        vm = LuaVM(runtime=runtime)
        if code:
            eval_ok(vm, code)
        used = vm.memory_stats().used_bytes
        snaps = Snapshots(vm, folder / "snaps", log)
        save = median_seconds(lambda: snaps.save("s"), reps)
        size = snaps.path_for("s").stat().st_size
        restore = median_seconds(lambda: snaps.restore_now("s"), reps)
        if code:
            eval_ok(vm, "assert(#keep == 9000)")
        rows.append((f"{label} (heap in use {used / 1024:,.0f} KiB)", save, restore, size))
        log(f"  snapshot, {label}: save {save * 1e3:.1f} ms, restore {restore * 1e3:.1f} ms, {size:,} bytes")
    return rows


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    runtime = Runtime()
    folder = Path(tempfile.mkdtemp(prefix="lua-wasm-bench-ext-"))
    try:
        log("ext get/set from Lua")
        rates = lua_rates(runtime, args.reps)
        log("alternatives")
        alternatives = crossing_rates(runtime, args.reps)
        log("persistence")
        p = persistence_times(runtime, folder, args.reps)
        log("snapshots")
        snaps = snapshot_times(runtime, folder, args.reps)
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    out = ["## External tables and snapshots", ""]
    out.append(f"Medians of {args.reps} runs after a warm-up; 2 MiB VMs; files on the temporary "
               "folder's file system, written as the kernel writes them (temporary file, fsync, rename, "
               "fsync of the folder). Noise between runs on this shared machine: about ±15 %.")
    out += ["", "| what | result (median; best run) | goal | |", "|---|---|---|---|"]
    worst_core = min(rate for label, rate, best in rates[:4])
    for i, (label, rate, best) in enumerate(rates):
        goal, status = (f"≥ {GOAL_OPS:,}/s", verdict(rate >= GOAL_OPS)) if i < 4 else ("", "")
        prefix = "" if label.startswith("a local") else "ext "
        out.append(f"| {prefix}{label} | {rate:,.0f}/s ({1e6 / rate:.2f} µs each); best {best:,.0f}/s "
                   f"| {goal} | {status} |")
    out.append(f"| persisting a {ITEMS:,}-item table after a cell (pickle {p['size'] / 1e6:.1f} MB, atomic write) "
               f"| {p['persist'] * 1e3:.0f} ms | ≤ {GOAL_PERSIST_MS} ms | {verdict(p['persist'] * 1e3 <= GOAL_PERSIST_MS)} |")
    out.append(f"| loading it at start: reading and checking the file | {p['load'] * 1e3:.0f} ms | reported | |")
    out.append(f"| loading it at start: a new VM's first `ext` call, all included | {p['first_use'] * 1e3:.0f} ms | reported | |")
    for label, save, restore, size in snaps:
        out.append(f"| snapshot save, {label}; file {size / 1024:,.0f} KiB | {save * 1e3:.1f} ms | ≤ {GOAL_SNAPSHOT_MS} ms "
                   f"| {verdict(save * 1e3 <= GOAL_SNAPSHOT_MS)} |")
        out.append(f"| snapshot restore, {label} | {restore * 1e3:.1f} ms | ≤ {GOAL_SNAPSHOT_MS} ms "
                   f"| {verdict(restore * 1e3 <= GOAL_SNAPSHOT_MS)} |")
    out += ["", "What the design rejected, measured the same way (why ext has imports of its own):", "",
            "| path | rate |", "|---|---|"]
    for label, rate in alternatives:
        out.append(f"| {label} | {rate:,.0f}/s ({1e6 / rate:.1f} µs each) |")
    out += ["",
            f"The slowest of the four core get/set loops runs at {worst_core:,.0f} operations/s (median). "
            "An access costs one crossing into Python through wasmtime's unchecked function API (about "
            "1.4 µs for the crossing alone on a quiet machine), a dict lookup on the key's bytes and a "
            "copy through a memoryview of linear memory (a ctypes `string_at`/`memmove` pair cost about "
            "1 µs more); the Lua side (metamethod, key encoding) is about 0.15 µs. The machine is shared: "
            "under load from other jobs every figure here roughly halves. Restoring a snapshot includes "
            "a fresh instance (about 1 ms)."]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
