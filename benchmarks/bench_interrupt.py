#!/usr/bin/env python
"""Interrupt benchmarks: how fast a cell stops, and what being stoppable costs.

    python benchmarks/bench_interrupt.py                     # markdown on stdout
    python benchmarks/bench_interrupt.py --reps 5 --quick
    python benchmarks/bench_interrupt.py --compare-epoch     # also an epoch-interruption engine
    python benchmarks/bench_interrupt.py --bulk-wasm /tmp/bulk/lua.wasm   # a build with bulk memory

Sections of the table:
- **Stop latency**: `interrupt()` from another thread, to `eval` returning,
  for loops the hook stops (state kept) and for a C call that escalates
  (state reset; the escalation delay dominates).
- **Cost on CPU-bound Lua**: the same cell on a VM with its watcher (the
  default) and on one without (`NoWatcher`), interleaved; the fastest run's
  wall time and the main thread's CPU time (`time.thread_time`, steadier on
  a shared machine), plus the CPU the watcher thread itself used per run.
- **Per-eval cost**: the watcher's begin/end bookkeeping and the locked
  memory read, timed directly (a trivial eval is too noisy to show them),
  then `1 + 1` round trips with and without watcher.
- Optional rows: an engine compiled with epoch interruption (checks on every
  loop back-edge, the design the notes measured at ~11 %), and a build of
  the module with bulk memory (this design builds without it).

Progress goes to stderr; stdout is a `## Interrupts` markdown section for
docs/BENCHMARKS.md. Numbers belong there, never in timed test assertions.
"""
from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import wasmtime  # noqa: E402

from lua_wasm_kernel.abi import Status  # noqa: E402
from lua_wasm_kernel.interrupt import NoWatcher  # noqa: E402
from lua_wasm_kernel.vm import LuaVM, Runtime  # noqa: E402

CPU_CELLS = {
    "fib(27)": "local function fib(n) if n < 2 then return n end return fib(n-1) + fib(n-2) end return fib(27)",
    "tight loop 2e7": "local x = 0 for i = 1, 2e7 do x = x + i end return x",
    "strings+tables": (
        "local n = 0 for r = 1, 20 do local t = {} for i = 1, 2000 do t[i] = ('x'):rep(i % 40) .. i end "
        "local s = table.concat(t, ',') for w in s:gmatch('%d+') do n = n + #w end end return n"
    ),
    "prints 5000 lines while computing": (
        "local x = 0 for i = 1, 5e6 do x = x + i if i % 1000 == 0 then print(i) end end return x"
    ),
    # Frees the quarantine holds back (src/quarantine.zig): coroutine states and CallInfos.
    "2e5 coroutines made and dropped": "for i = 1, 2e5 do coroutine.wrap(function() end)() end",
    "recursion to depth 180 and GC, 2000 times": (
        "local function d(n) if n == 0 then return 0 end return 1 + d(n - 1) end "
        "for i = 1, 2000 do d(180) collectgarbage('step') end"
    ),
}
STOP_CELLS = {
    "`while true do end`": ("while true do end", Status.INTERRUPTED),
    "loop in a coroutine": ("coroutine.wrap(function() while true do end end)()", Status.INTERRUPTED),
    "nested `pcall` loops": ("while true do pcall(function() while true do end end) end", Status.INTERRUPTED),
    "pattern-matching C call (escalates)": (
        "return string.find(string.rep('a', 40), string.rep('a-', 40) .. 'b')",
        Status.TRAPPED,
    ),
}


def log(*args: object) -> None:
    print(*args, file=sys.stderr, flush=True)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds >= 0.01 else f"{seconds * 1000:.2f} ms"


def pct(new: float, base: float) -> str:
    return f"{(new / base - 1) * 100:+.1f} %"


class EpochRuntime(Runtime):
    """For comparison only: an engine that compiles epoch checks into the code."""

    @staticmethod
    def _config() -> wasmtime.Config:
        config = Runtime._config()
        config.epoch_interruption = True
        return config

    def _config_key(self) -> str:
        return super()._config_key() + ";epoch=1"


class BulkRuntime(Runtime):
    """For comparison only: accepts a module built with bulk memory."""

    @staticmethod
    def _config() -> wasmtime.Config:
        config = Runtime._config()
        config.wasm_bulk_memory = True
        return config

    def _config_key(self) -> str:
        return super()._config_key() + ";bulk=1"


@contextlib.contextmanager
def epoch_stores() -> Iterator[None]:
    """New Stores get a far epoch deadline (the default, 0, traps at once)."""
    real = wasmtime.Store

    class FarDeadlineStore(real):  # type: ignore[misc, valid-type]
        def __init__(self, engine: wasmtime.Engine) -> None:
            super().__init__(engine)
            self.set_epoch_deadline(1 << 40)

    wasmtime.Store = FarDeadlineStore  # type: ignore[misc]
    try:
        yield
    finally:
        wasmtime.Store = real  # type: ignore[misc]


def quiet(stream: object, text: str) -> None:
    pass


def without_watcher(vm: LuaVM) -> LuaVM:
    """The same VM with no watcher thread: a fresh instance attached to a NoWatcher."""
    vm.watcher.close()
    vm.watcher = NoWatcher()
    vm.reset()
    return vm


def watcher_cpu(vm: LuaVM) -> Callable[[], float]:
    """A clock of the CPU seconds the VM's watcher thread has used (0 without one)."""
    thread = getattr(vm.watcher, "_thread", None)
    if thread is None or thread.ident is None or not hasattr(time, "pthread_getcpuclockid"):
        return lambda: 0.0
    clock = time.pthread_getcpuclockid(thread.ident)
    return lambda: time.clock_gettime(clock)


def time_cell(vm: LuaVM, code: str) -> tuple[float, float, float]:
    """Wall, main-thread CPU and watcher-thread CPU seconds of one eval."""
    vm.eval("0")  # starts the watcher thread if it idled out
    watcher = watcher_cpu(vm)
    wall, main, other = time.perf_counter(), time.thread_time(), watcher()
    r = vm.eval(code, on_output=quiet)
    wall, main, other = time.perf_counter() - wall, time.thread_time() - main, watcher() - other
    assert r.ok, r
    return wall, main, other


def compare(vms: dict[str, LuaVM], code: str, reps: int) -> dict[str, tuple[float, float, float]]:
    """Per VM: fastest wall, fastest main-thread CPU, mean other-thread CPU; interleaved runs."""
    samples: dict[str, list[tuple[float, float, float]]] = {k: [] for k in vms}
    for vm in vms.values():
        time_cell(vm, code)
    for i in range(reps):
        order = list(vms.items()) if i % 2 == 0 else list(reversed(vms.items()))
        for name, vm in order:
            vm.gc()
            samples[name].append(time_cell(vm, code))
    return {
        k: (min(w for w, _, _ in s), min(c for _, c, _ in s), statistics.mean(o for _, _, o in s))
        for k, s in samples.items()
    }


def bookkeeping(vm: LuaVM, n: int = 100_000) -> tuple[float, float]:
    """Seconds per watcher begin()+end() pair, and per locked 8-byte read."""
    w = vm.watcher
    t = time.perf_counter()
    for _ in range(n):
        w.begin()
        w.end()
    pair = (time.perf_counter() - t) / n
    addr = vm.interrupt_layout["signals_addr"]
    t = time.perf_counter()
    for _ in range(n):
        vm.read(addr, 8)
    locked = (time.perf_counter() - t) / n
    return pair, locked


def stop_latency(vm: LuaVM, code: str, expect: Status, delay: float, reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        sent: list[float] = []

        def fire() -> None:
            time.sleep(delay)
            sent.append(time.perf_counter())
            vm.interrupt()

        threading.Thread(target=fire, daemon=True).start()
        r = vm.eval(code)
        done = time.perf_counter()
        assert r.status == expect and sent, r
        out.append(done - sent[0])
    return out


def trivial_latency(vms: dict[str, LuaVM], n: int, rounds: int = 10) -> dict[str, tuple[float, float]]:
    """Per VM: fastest and median main-thread CPU seconds of a `1 + 1` eval, batches interleaved."""
    samples: dict[str, list[float]] = {k: [] for k in vms}
    for vm in vms.values():
        for _ in range(200):
            vm.eval("1 + 1")
    for i in range(rounds):
        order = list(vms.items()) if i % 2 == 0 else list(reversed(vms.items()))
        for name, vm in order:
            t = time.thread_time()
            for _ in range(n):
                vm.eval("1 + 1")
            samples[name].append((time.thread_time() - t) / n)
    return {k: (min(v), statistics.median(v)) for k, v in samples.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="fewer stop-latency runs")
    ap.add_argument("--compare-epoch", action="store_true")
    ap.add_argument("--bulk-wasm", type=Path, help="a lua.wasm built with bulk memory, for comparison")
    args = ap.parse_args()

    cache = Path(tempfile.mkdtemp(prefix="bench-interrupt-"))
    runtime = Runtime(cache_dir=cache)
    vms: dict[str, LuaVM] = {"watcher": LuaVM(runtime=runtime), "no watcher": LuaVM(runtime=runtime)}
    without_watcher(vms["no watcher"])
    if args.compare_epoch:
        epoch_rt = EpochRuntime(cache_dir=cache)
        with epoch_stores():
            vms["epoch engine"] = without_watcher(LuaVM(runtime=epoch_rt))
    if args.bulk_wasm:
        vms["bulk-memory build"] = without_watcher(LuaVM(runtime=BulkRuntime(args.bulk_wasm, cache_dir=cache)))

    lines = ["## Interrupts", ""]
    lines += [
        "Interrupts arm Lua's stop hook by writing into linear memory from a watcher thread; a cell "
        "that ignores it is stopped by `mprotect`-ing the memory (a wasm trap) and the VM is rebuilt "
        "(docs/ABI.md, \"Interrupts and streaming\"). `python benchmarks/bench_interrupt.py"
        + (" --compare-epoch" if args.compare_epoch else "")
        + (" --bulk-wasm ..." if args.bulk_wasm else "")
        + f"`; 2-core machine shared with other work, so CPU-bound cells report the main thread's CPU "
        f"time of the fastest of {args.reps} interleaved runs, and wall times drift by ±10 % or more.",
        "",
    ]

    # Stop latency
    lat_reps = 5 if args.quick else 20
    vm = vms["watcher"]
    lines += ["| stop: `interrupt()` to `eval` returning (wall) | median | max | result |", "|---|---|---|---|"]
    for name, (code, expect) in STOP_CELLS.items():
        reps = max(2, lat_reps // 5) if expect == Status.TRAPPED else lat_reps
        log(f"stop latency: {name}")
        lat = stop_latency(vm, code, expect, 0.05, reps)
        what = "interrupted, state kept" if expect == Status.INTERRUPTED else (
            f"trapped after the {vm.watcher.escalate_after:g} s escalation delay, VM rebuilt"
        )
        lines.append(f"| {name} | {ms(statistics.median(lat))} | {ms(max(lat))} | {what} |")
    lines.append("")

    # Streaming
    log("streaming")
    firsts = []
    for _ in range(3 if args.quick else 8):
        seen: list[float] = []
        start = time.perf_counter()
        vm.eval(
            "print('first') local t = os.clock() while os.clock() - t < 0.3 do end print('second')",
            on_output=lambda stream, text: seen.append(time.perf_counter() - start),
        )
        firsts.append(seen[0])
    lines += [
        "| streaming | median | max |",
        "|---|---|---|",
        f"| `print('first')`, then 0.3 s of computing: 'first' reaches `on_output` after | "
        f"{ms(statistics.median(firsts))} | {ms(max(firsts))} |",
        "",
    ]

    # CPU-bound cost
    names = list(vms)
    cols = ["cell"] + [f"{n} (CPU)" for n in names] + ["watcher vs none", "watcher thread CPU per run"]
    cols += [f"{n} vs none" for n in names[2:]]
    lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for name, code in CPU_CELLS.items():
        log(f"cpu: {name}")
        res = compare(vms, code, args.reps)
        log("  " + ", ".join(f"{n}: wall {ms(w)}, CPU {ms(c)}, other threads {ms(o)}" for n, (w, c, o) in res.items()))
        base = res["no watcher"][1]
        cells = [f"{ms(res[n][1])}" for n in names]
        cells += [pct(res["watcher"][1], base), ms(res["watcher"][2])]
        cells += [pct(res[n][1], base) for n in names[2:]]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Times are main-thread CPU of the fastest run; the wall times go to stderr.",
        "",
    ]

    # Per-eval cost
    log("per-eval cost")
    pair, locked = bookkeeping(LuaVM(runtime=runtime))
    lines += ["| per eval | cost |", "|---|---|"]
    lines.append(f"| watcher `begin()` + `end()` | {pair * 1e6:.2f} µs |")
    lines.append(f"| `read()` under the watcher's lock (about 2 per eval) | {locked * 1e6:.2f} µs |")
    for n, (best, median) in trivial_latency(vms, 1000).items():
        lines.append(f"| trivial eval `1 + 1`, {n} (CPU, fastest / median batch) | {best * 1e6:.1f} / {median * 1e6:.1f} µs |")
    lines.append("")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
