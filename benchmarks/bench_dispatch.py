#!/usr/bin/env python
"""Dispatch schemes under wasmtime: the question behind issue 9's direction 1.

    python benchmarks/bench_dispatch.py [--reps 7] [--n 10000000]

Builds benchmarks/dispatch_probe.c (a toy register VM) to wasm with the
tail-call feature, runs its four dispatch loops interleaved in one wasmtime
(`wasm_tail_call` on, the shipped Cranelift level), and reports the thread CPU
time of the fastest run of each and its ratio to the computed-goto loop. Only
the ratios matter: they say whether rewriting luaV_execute as tail-call-
threaded handlers could pay under this engine.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCHEMES = [
    ("goto", "computed goto in one function (lvm.c's scheme today)"),
    ("tail", "tail-call threading: `musttail` through a table (`return_call_indirect`)"),
    ("tailsw", "tail-call threading, each handler ending in its own `switch` of direct `musttail` calls (`br_table`, then `return_call`)"),
    ("call", "call threading: a loop of indirect calls, each handler returns the next pc"),
]


def build(out: Path) -> Path:
    wasm = out / "dispatch_probe.wasm"
    subprocess.run([sys.executable, "-m", "ziglang", "cc", "-target", "wasm32-freestanding",
                    "-mcpu=generic+tail_call", "-O2", "-nostdlib", "-Wl,--no-entry", "-o", str(wasm),
                    str(HERE / "dispatch_probe.c")], check=True)
    return wasm


def measure(wasm: Path, reps: int, n: int, config: dict[str, str]) -> dict[str, list[float]]:
    import wasmtime

    cfg = wasmtime.Config()
    cfg.wasm_tail_call = True
    cfg.cranelift_opt_level = "speed"
    for flag, value in config.items():
        cfg.cranelift_flag_set(flag, value)
    engine = wasmtime.Engine(cfg)
    store = wasmtime.Store(engine)
    ex = wasmtime.Instance(store, wasmtime.Module.from_file(engine, str(wasm)), []).exports(store)
    ex["setup"](store)
    check = {name: ex[f"run_{name}"](store, 1000) for name, _ in SCHEMES}
    if len(set(check.values())) != 1:
        raise RuntimeError(f"the schemes disagree: {check}")
    times: dict[str, list[float]] = {name: [] for name, _ in SCHEMES}
    for rep in range(reps):
        order = SCHEMES if rep % 2 else SCHEMES[::-1]
        for name, _ in order:
            t0 = time.thread_time()
            ex[f"run_{name}"](store, n)
            times[name].append(time.thread_time() - t0)
    return times


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--n", type=int, default=10_000_000, help="loop iterations (8 instructions each)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="lua-wasm-dispatch-") as tmp:
        wasm = build(Path(tmp))
        variants = [("as shipped", {}),
                    ("no table-access Spectre mitigation", {"enable_table_access_spectre_mitigation": "false"})]
        rows = [(label, measure(wasm, args.reps, args.n, cfg)) for label, cfg in variants]
    lines = [
        "## Engine: dispatch schemes under wasmtime (probe)",
        "",
        f"`python benchmarks/bench_dispatch.py`: benchmarks/dispatch_probe.c, a toy register VM running "
        f"{args.n:,} iterations of an 8-instruction loop, dispatched {len(SCHEMES)} ways, built by zig cc -O2 with "
        f"the wasm tail-call feature and run interleaved in one wasmtime with `wasm_tail_call`; thread CPU "
        f"time of the fastest of {args.reps} runs (median in brackets); ratio to computed goto.",
        "",
        "| wasmtime config | " + " | ".join(name for name, _ in SCHEMES) + " | "
        + " | ".join(f"{name} / goto" for name, _ in SCHEMES[1:]) + " |",
        "|---|" + "---:|" * (2 * len(SCHEMES) - 1),
    ]
    for label, times in rows:
        best = {k: min(v) for k, v in times.items()}
        lines.append(f"| {label} | " + " | ".join(
            f"{best[name] * 1e3:.0f} ms ({statistics.median(times[name]) * 1e3:.0f})" for name, _ in SCHEMES)
            + " | " + " | ".join(f"{best[name] / best['goto']:.2f}×" for name, _ in SCHEMES[1:]) + " |")
    lines += [""] + [f"- *{name}*: {what}." for name, what in SCHEMES]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
