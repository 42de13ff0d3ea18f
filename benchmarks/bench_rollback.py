#!/usr/bin/env python
"""What the per-cell rollback copy costs: linear memory copied as each cell starts.

    python benchmarks/bench_rollback.py            # markdown on stdout
    python benchmarks/bench_rollback.py --reps 50

vm.py copies the whole linear memory into a kept buffer before every eval, so
that a cell stopped by force or trapped rolls back to the state before it
(`LuaVM._keep_rollback`); above `rollback_memory_max` (default 16 MiB) it
does not, and such a cell resets the state instead. For each memory size this
measures the copy alone, an empty cell with and without the copy, and the
restore after a trap (a fresh instance plus the copy written back). Medians
of wall time; progress on stderr.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from lua_wasm_kernel.vm import LuaVM, Runtime  # noqa: E402

SIZES_MIB = (2, 16, 64, 256)


def median_ms(fn, reps: int) -> float:
    fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=30)
    args = parser.parse_args()
    runtime = Runtime()
    rows = []
    for mib in SIZES_MIB:
        print(f"{mib} MiB...", file=sys.stderr)
        size = mib << 20
        with_copy = LuaVM(memory_bytes=size, runtime=runtime, rollback_bytes_max=size)
        without = LuaVM(memory_bytes=size, runtime=runtime, rollback_bytes_max=0)
        copy = median_ms(with_copy._keep_rollback, args.reps)
        cell = median_ms(lambda: with_copy.eval("x = 1"), args.reps)
        bare = median_ms(lambda: without.eval("x = 1"), args.reps)
        restore = median_ms(lambda: (with_copy._keep_rollback(), with_copy._roll_back()), max(3, args.reps // 5))
        rows.append((mib, copy, bare, cell, restore))
        del with_copy, without
    print("## Rollback: the per-cell memory copy\n")
    print("Each cell starts by copying the VM's linear memory (vm.py, `_keep_rollback`), so a cell")
    print("stopped by force or trapped rolls back to the state before it. Medians of")
    print(f"{args.reps} runs; *restore* is a fresh instance plus the copy written back (only after a trap).")
    print("The default `rollback_memory_max` is 16 MiB: above it no copy is taken and such a cell resets.\n")
    print("| memory | copy | empty cell, no copy | empty cell, with copy | restore after a trap |")
    print("|---:|---:|---:|---:|---:|")
    for mib, copy, bare, cell, restore in rows:
        print(f"| {mib} MiB | {copy:.3f} ms | {bare:.3f} ms | {cell:.3f} ms | {restore:.1f} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
