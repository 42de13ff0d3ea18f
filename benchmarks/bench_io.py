#!/usr/bin/env python
"""Reading a file of the notebook's folder: io.lines and io.read("a") over a
50 MB CSV in the VM (Lua's liolib over src/files.zig and files.py), against
Debian's lua5.4 on the same file.

    python benchmarks/bench_io.py              # markdown on stdout
    python benchmarks/bench_io.py --reps 3 --mb 50

Each figure is the median of `--reps` runs after one untimed warm-up (the
file is then in the page cache for both). The VM's time is one `LuaVM.eval`;
lua5.4's is the whole process, minus the median time of a process that runs
an empty chunk (its start-up). Without lua5.4 on PATH (`apt-get install
lua5.4`) that column says so. Progress goes to stderr; stdout is the
markdown section that `benchmarks/run_all.py` splices into docs/BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from lua_wasm_kernel import abi  # noqa: E402
from lua_wasm_kernel.vm import LuaVM  # noqa: E402

GOAL_RATIO = 2.0
# read("a") of 50 MiB grows a luaL_Buffer by doubling: room for about 3x the file.
VM_MEMORY_BYTES = 256 * 2**20
CASES = {
    "io.lines (count lines)": "local n = 0 for l in io.lines('data.csv') do n = n + 1 end return n",
    "io.lines, split fields": "local s = 0 for l in io.lines('data.csv') do "
    "local a, b = l:match('^(%d+),(%d+)') s = s + b end return s",
    "read('a') (whole file)": "local f = io.open('data.csv') local d = f:read('a') f:close() return #d",
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def write_csv(path: Path, size_bytes: int) -> int:
    """A CSV of `size_bytes` or a little more: "i,i*7,name_i" lines; returns the line count."""
    lines = 0
    with path.open("w") as f:
        written = 0
        block = []
        while written < size_bytes:
            line = f"{lines},{lines * 7},name_{lines}\n"
            block.append(line)
            written += len(line)
            lines += 1
            if len(block) == 10_000:
                f.write("".join(block))
                block = []
        f.write("".join(block))
    return lines


def median_seconds(fn: Callable[[], object], reps: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--mb", type=int, default=50)
    args = ap.parse_args()
    lua = shutil.which("lua5.4")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        lines = write_csv(folder / "data.csv", args.mb * 2**20)
        size = (folder / "data.csv").stat().st_size
        log(f"data.csv: {size / 2**20:.1f} MiB, {lines} lines")
        vm = LuaVM(memory_bytes=VM_MEMORY_BYTES)
        vm.files.configure("read", folder)
        startup = 0.0
        if lua:
            startup = median_seconds(lambda: subprocess.run([lua, "-e", ""], check=True), args.reps)
        rows = []
        for name, code in CASES.items():
            def in_vm() -> None:
                r = vm.eval(code)
                if not r.ok:
                    raise RuntimeError(r.error)

            vm_s = median_seconds(in_vm, args.reps)
            log(f"{name}: VM {vm_s:.3f} s")
            if lua:
                native_s = median_seconds(
                    lambda: subprocess.run([lua, "-e", code], cwd=folder, check=True, capture_output=True), args.reps) - startup
                log(f"{name}: lua5.4 {native_s:.3f} s")
                rows.append((name, vm_s, f"{native_s:.3f}", f"{vm_s / native_s:.2f}x"))
            else:
                rows.append((name, vm_s, "n/a", "n/a"))
    out = ["## Files: io.lines over a CSV vs native Lua 5.4", ""]
    out.append(
        f"A {size / 2**20:.0f} MiB CSV ({lines} lines) in the notebook's folder, read through "
        f"Lua's own liolib over the confined file layer ({abi.FILE_BUFFER_SIZE_BYTES // 1024} KiB "
        "read-ahead per file, one host crossing per buffer). Median of "
        f"{args.reps} runs after a warm-up; lua5.4's start-up ({startup * 1000:.0f} ms) subtracted. "
        f"Goal: io.lines within {GOAL_RATIO:g}x of lua5.4."
    )
    if not lua:
        out.append("")
        out.append("lua5.4 is not on PATH (`apt-get install lua5.4`), so there is no native column.")
    out += ["", "| case | lua-wasm (s) | lua5.4 (s) | ratio |", "|---|---|---|---|"]
    out += [f"| {name} | {vm_s:.3f} | {native} | {ratio} |" for name, vm_s, native, ratio in rows]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
