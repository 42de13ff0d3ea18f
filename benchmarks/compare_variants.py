#!/usr/bin/env python
"""Build or engine variants of lua.wasm side by side: which one is faster.

    python benchmarks/compare_variants.py base=/tmp/a/lua.wasm lto=/tmp/b/lua.wasm
    python benchmarks/compare_variants.py base=lua_wasm_kernel/lua.wasm \\
        'nospectre=lua_wasm_kernel/lua.wasm;cranelift.enable_table_access_spectre_mitigation=false'

Each variant is NAME=PATH[;KEY=VALUE...] (extra wasmtime Config settings, as
bench_engine.py's --config). All variants and native Lua (lupa's lua54) run
bench_engine.py's workloads interleaved in one process, in an order that
rotates every repetition. Thread CPU time is the figure compared (the machine
is shared; wall time swings with other jobs); the table gives, per variant,
the median CPU ratio to native per workload, their geometric mean, and the
geometric mean of each variant's medians over the first variant's.
Progress on stderr, markdown on stdout; numbers belong in docs/BENCHMARKS.md.
Not a bench_*.py script: it needs its variants as arguments, so run_all.py
does not run it; its tables are quoted by hand in docs/BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_engine as be  # noqa: E402


def parse_variant(spec: str) -> tuple[str, Path, dict[str, object]]:
    name, _, rest = spec.partition("=")
    path, *settings = rest.split(";")
    config: dict[str, object] = {}
    for item in settings:
        key, _, value = item.partition("=")
        config[key] = {"true": True, "false": False}.get(value.lower(), int(value) if value.isdigit() else value)
    return name, Path(path), config


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("variants", nargs="+", help="NAME=PATH[;KEY=VALUE...]; the first is the reference")
    ap.add_argument("--reps", type=int, default=7, help="timed runs per workload and variant (default 7)")
    ap.add_argument("--scale", type=float, default=0.4, help="workload size factor (default 0.4)")
    ap.add_argument("--workload", action="append", help="only these workloads (repeatable)")
    ap.add_argument("--memory-mb", type=int, default=be.MEMORY_MB_DEFAULT)
    args = ap.parse_args(argv)

    engines = []
    for spec in args.variants:
        name, path, config = parse_variant(spec)
        engines.append(be.WasmEngine(args.memory_mb, be.make_runtime(path, config), name))
    many = be.measure_many(engines + [be.NativeEngine()], args.reps, args.scale, args.workload)

    labels = [e.label for e in engines]
    print(f"{args.reps} interleaved runs per variant at {args.scale}× size; median thread CPU time "
          "relative to native (lower is better)\n")
    print("| workload | " + " | ".join(labels) + " | native (ms) |")
    print("|---|" + "---:|" * (len(labels) + 1))
    for name, ts in many.items():
        native = ts[-1].median_cpu
        print(f"| {name} | " + " | ".join(f"{t.median_cpu / native:.2f}" for t in ts[:-1])
              + f" | {native * 1e3:.1f} |")
    gms = [be.geomean([ts[i].median_cpu / ts[-1].median_cpu for ts in many.values()]) for i in range(len(labels))]
    best = [be.geomean([min(ts[i].cpu) / min(ts[-1].cpu) for ts in many.values()]) for i in range(len(labels))]
    print("| **geomean** | " + " | ".join(f"**{g:.3f}**" for g in gms) + " | |")
    print("| best-run geomean | " + " | ".join(f"{g:.3f}" for g in best) + " | |")
    print("| vs " + labels[0] + " | " + " | ".join(f"{g / gms[0]:.3f}" for g in gms) + " | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
