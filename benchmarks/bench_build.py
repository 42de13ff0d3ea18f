#!/usr/bin/env python
"""Build benchmarks: size and speed per Zig optimize mode, and wasmtime knobs.

    python benchmarks/bench_build.py                  # both sections, markdown on stdout
    python benchmarks/bench_build.py --only modes --reps 5
    python benchmarks/bench_build.py --only cold      # the first build on a fresh machine

Modes: builds ReleaseFast, ReleaseSmall and ReleaseSafe into temp prefixes
(never touching lua_wasm_kernel/lua.wasm; Zig's cache is build/zig-cache),
then reports stripped size, gzip -9 size, and the geometric mean of VM/native
time over bench_engine.py's workloads. Knobs: the installed lua.wasm under
wasmtime Config variants. In both, all variants and native Lua run
interleaved in one process (see bench_engine.measure_many), so load drifts
on the shared machine hit them alike; workloads run at a reduced size
(--scale) with more repetitions.
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_engine as be  # noqa: E402
from bench_size import Module  # noqa: E402  (the wasm reader: sections, data segments)

ROOT = be.ROOT
sys.path.insert(0, str(ROOT))
import hatch_build  # noqa: E402  (the build's own command: one zig build-exe)

# The Lua sources: hatch_build.py's folder, or the one LUA_WASM_LUA_SRC names.
LUA_SRC = Path(os.environ.get("LUA_WASM_LUA_SRC") or ROOT / "build" / "lua54")
COLD_GOAL_S = 60
MODES = [("fast", "ReleaseFast"), ("small", "ReleaseSmall"), ("safe", "ReleaseSafe")]
SIZE_CEILING_KB = 400
SIZE_AIM_KB = 250

# (label, wasmtime.Config settings on top of Runtime._config(), why it might matter)
KNOBS: list[tuple[str, dict[str, object], str]] = [
    ("as shipped", {}, "`Runtime._config()`: exceptions, no bulk memory, `cranelift_opt_level=speed`"),
    ("cranelift_opt_level=speed_and_size", {"cranelift_opt_level": "speed_and_size"}, "more Cranelift passes"),
    ("cranelift_opt_level=none", {"cranelift_opt_level": "none"}, "fewer Cranelift passes (reference)"),
    ("memory_may_move=false", {"memory_may_move": False},
     "lets Cranelift treat the memory base as fixed (the imported memory declares no maximum)"),
    ("no table-access Spectre mitigation", {"cranelift.enable_table_access_spectre_mitigation": False},
     "cheaper `call_indirect` (Lua C functions, metamethods)"),
    ("native_unwind_info=false", {"native_unwind_info": False}, "less work registering code; not used by wasm EH"),
    ("signals_based_traps=false", {"signals_based_traps": False},
     "explicit bounds checks instead of guard pages (reference; interrupts rely on traps)"),
]


def log(msg: str) -> None:
    be.log(msg)


def build(mode: str, prefix: Path) -> Path:
    """lua.wasm in `mode`, by the command hatch_build.py runs, into prefix/."""
    out = prefix / "lua.wasm"
    prefix.mkdir(parents=True, exist_ok=True)
    hatch_build.write_build_options()
    cmd = hatch_build.wasm_command(LUA_SRC, mode, out=out)
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"zig build-exe -O {mode} failed:\n{proc.stderr}")
    return out


def interleaved_geomeans(engines: list, reps: int, scale: float) -> tuple[dict, list[tuple[float, float]]]:
    """Runs engines + native interleaved; (results, [(median-ratio gm, best-run-ratio gm) per engine])."""
    native = be.NativeEngine()
    results = be.measure_many(engines + [native], reps, scale)
    out = []
    for i in range(len(engines)):
        wall = [t[i].median / t[-1].median for t in results.values()]
        best = [min(t[i].wall) / min(t[-1].wall) for t in results.values()]
        out.append((be.geomean(wall), be.geomean(best)))
    return results, out


def default_mode() -> str:
    return str(hatch_build.read_manifest()["optimize"])


def modes_section(reps: int, scale: float) -> str:
    rows = []
    engines = []
    with tempfile.TemporaryDirectory(prefix="lua-wasm-modes-") as tmp:
        for mode, name in MODES:
            log(f"building {name}")
            wasm = build(mode, Path(tmp) / mode)
            module = Module(wasm.read_bytes())
            rows.append((mode, name, module.size, module.gzip_size, module.zero_data_bytes()))
            engines.append(be.WasmEngine(be.MEMORY_MB_DEFAULT, be.make_runtime(wasm), mode))
        log(f"timing {len(engines)} modes + native, {reps} runs each, scale {scale}")
        results, gms = interleaved_geomeans(engines, reps, scale)
    current = default_mode()
    lines = [
        "## Build: size and speed per optimize mode",
        "",
        f"`python benchmarks/bench_build.py --only modes`: each mode built from this tree (stripped, as "
        f"build.zig always does); speed is the geometric mean of VM / native time over bench_engine.py's "
        f"workloads at {scale:g}× size, {reps} interleaved runs per variant: medians, and fastest run against "
        f"fastest run (*best-run*, the estimate least disturbed by other jobs). The build.zig default "
        f"is currently `{current}`. Ceiling {SIZE_CEILING_KB} KB, aim {SIZE_AIM_KB} KB.",
        "",
        "| mode | size (KB) | gzip -9 (KB) | of which all-zero data (KB) | geomean VM/native | best-run geomean |"
        + " " + " | ".join(results) + " |",
        "|---|---:|---:|---:|---:|---:|" + "---:|" * len(results),
    ]
    for (mode, name, size, gz, zeros), (gm, gm_best), i in zip(rows, gms, range(len(rows))):
        per = " | ".join(f"{t[i].median / t[-1].median:.2f}" for t in results.values())
        lines.append(f"| {name}{' (default)' if mode == current else ''} | {size / 1024:.0f} | {gz / 1024:.0f} "
                     f"| {zeros / 1024:.0f} | **{gm:.2f}×** | {gm_best:.2f}× | {per} |")
    lines += [
        "",
        "- *All-zero data*: the `.bss` (IO buffer and other zeroed statics) that wasm-ld writes out as a "
        "data segment because the module imports its memory. A fresh wasmtime memory is already zero, "
        "so dropping those segments after linking (or allocating the buffers at `lw_init`) would cut "
        "that much from every mode.",
    ]
    return "\n".join(lines) + "\n"


def knobs_section(reps: int, scale: float) -> str:
    engines, notes = [], []
    for label, config, why in KNOBS:
        try:
            engine = be.WasmEngine(be.MEMORY_MB_DEFAULT, be.make_runtime(None, config), label)
            engine.run("return 1")
        except Exception as e:  # a knob this wasmtime or this module refuses
            notes.append(f"- `{label}`: not usable ({type(e).__name__}: {str(e).splitlines()[0][:120]}).")
            continue
        engines.append((engine, why))
    log(f"timing {len(engines)} wasmtime configs + native, {reps} runs each, scale {scale}")
    results, gms = interleaved_geomeans([e for e, _ in engines], reps, scale)
    base, base_best = gms[0]
    lines = [
        "## Engine: wasmtime config knobs",
        "",
        f"`python benchmarks/bench_build.py --only knobs`: the installed lua.wasm under wasmtime `Config` "
        f"variants, interleaved in one process, {reps} runs per variant at {scale:g}× size; geometric mean "
        "of VM / native medians, and of fastest against fastest run (*best-run*). Differences under about "
        "5 % are within this machine's noise; `native_unwind_info` cannot change run time, so its row "
        "shows the noise floor.",
        "",
        "| config | why try it | geomean VM/native | vs as shipped | best-run geomean | vs as shipped |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for (engine, why), (gm, gm_best) in zip(engines, gms):
        lines.append(f"| {engine.label} | {why} | {gm:.2f}× | {(gm / base - 1) * 100:+.0f} % "
                     f"| {gm_best:.2f}× | {(gm_best / base_best - 1) * 100:+.0f} % |")
    if notes:
        lines += [""] + notes
    return "\n".join(lines) + "\n"


# -- the cold first build

# Where the cold build's time goes, read from the files each step leaves in
# the two caches (name patterns, first match wins), in the order Zig runs them.
def cold_phases() -> list[tuple[str, tuple[str, ...]]]:
    manifest = hatch_build.read_manifest()
    c_files = [*manifest["lua_sources"], *manifest["c_sources"], *manifest["wasm_only_c_sources"]]
    return [
        # Only a `zig build` compiles these two tools; hatch_build's command does not.
        ("Zig's build runner (maker, compiled for the host)", ("maker", "maker_zcu.o")),
        ("build.zig (configurer)", ("configurer", "dependencies.zig")),
        ("Zig's translate-c tool (compiled for the host)", ("translate-c", "translate-c_zcu.o")),
        ("a header translated", ("lua_api.zig",)),
        ("compiler-rt (for wasm32)", ("libcompiler_rt.a", "compiler_rt_zcu.o")),
        ("wasi-libc: crt1 and all of libc.a", ("*",)),  # any other object of the global cache
        ("our Zig (lua_zcu.o) and the link", ("lua_zcu.o", "lua.wasm")),
        ("Lua's C and our C files", tuple(Path(f).stem + ".o" for f in c_files)),
    ]


def cpu_seconds_of_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def cold_timeline(global_cache: Path, local_cache: Path, output: Path, t0: float) -> dict[str, tuple[float, float, int]]:
    """{phase: (first file's time, last file's time, files)}, seconds after t0, from the caches' files
    and the output (`-femit-bin` writes lua.wasm, and no lua_zcu.o, outside the caches)."""
    times: dict[str, list[float]] = {}
    phases = cold_phases()
    for cache in (global_cache, local_cache):
        for path in (cache / "o").rglob("*"):
            if not path.is_file():
                continue
            for phase, patterns in phases:
                if any(path.match(p) for p in patterns) and (patterns != ("*",) or cache == global_cache):
                    times.setdefault(phase, []).append(path.stat().st_mtime - t0)
                    break
    if output.exists():
        times.setdefault("our Zig (lua_zcu.o) and the link", []).append(output.stat().st_mtime - t0)
    return {k: (min(v), max(v), len(v)) for k, v in times.items()}


def measure_cold() -> dict[str, object]:
    """hatch_build.py's compile with empty caches: wall, CPU of all processes, and the timeline of its phases."""
    with tempfile.TemporaryDirectory(prefix="lua-wasm-cold-") as tmp_name:
        tmp = Path(tmp_name)
        global_cache, local_cache, out = tmp / "global", tmp / "local", tmp / "out" / "lua.wasm"
        out.parent.mkdir()
        env = dict(os.environ, ZIG_GLOBAL_CACHE_DIR=str(global_cache))
        hatch_build.write_build_options()
        cmd = hatch_build.wasm_command(LUA_SRC, out=out, cache_dir=local_cache)
        log("cold build: hatch_build.py's zig build-exe with empty caches")
        load_before = os.getloadavg()
        c0, t0, w0 = cpu_seconds_of_children(), time.time(), time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        wall, cpu = time.perf_counter() - w0, cpu_seconds_of_children() - c0
        if proc.returncode != 0:
            raise RuntimeError(f"cold zig build-exe failed:\n{proc.stderr[-2000:]}")
        timeline = cold_timeline(global_cache, local_cache, out, t0)
        size = out.stat().st_size
    load = os.getloadavg()
    return {"wall": wall, "cpu": cpu, "timeline": timeline, "size": size, "load": load, "load_before": load_before}


def cold_section(m: dict[str, object]) -> str:
    wall, cpu = m["wall"], m["cpu"]
    verdict = "meets" if wall <= COLD_GOAL_S else f"misses by {wall - COLD_GOAL_S:.0f} s"
    lines = [
        "## Build: the cold first build",
        "",
        "`python benchmarks/bench_build.py --only cold`: the one `zig build-exe` command `hatch_build.py` "
        "runs (`pip install .`; `python hatch_build.py --print-command` shows it) with an empty Zig global "
        "cache (`ZIG_GLOBAL_CACHE_DIR` set to a new temporary folder) and an empty local cache, as on a "
        "fresh machine or CI runner; fetching the Lua sources is not timed. Where the time goes is read "
        "from the modification times of the files each step leaves in the caches (times are seconds "
        "after the start; Zig compiles libc, compiler-rt and our C on its thread pool, so phases "
        "overlap). The load average is given because on a shared machine the wall time scales with "
        "it; the CPU time does not.",
        "",
        f"Whole build: **{wall:.0f} s** wall, {cpu:.0f} s CPU (all processes); load average "
        f"{m['load_before'][0]:.1f} before it, {m['load'][0]:.1f} / {m['load'][1]:.1f} / {m['load'][2]:.1f} "
        f"after it, on {os.cpu_count()} cores. lua.wasm: {m['size']:,} bytes. "
        f"Goal ≤ {COLD_GOAL_S} s: **{verdict}**.",
        "",
        "| phase | first file (s) | last file (s) | share of the wall time | files |",
        "|---|---:|---:|---:|---:|",
    ]
    timeline = m["timeline"]
    prev_end = 0.0
    for phase, (first, last, files) in sorted(timeline.items(), key=lambda kv: kv[1][1]):
        span = max(0.0, last - max(prev_end, 0.0))
        lines.append(f"| {phase} | {first:.0f} | {last:.0f} | {span / wall * 100:.0f} % | {files} |")
        prev_end = max(prev_end, last)
    lines += [
        "",
        "- *Share*: from the end of the previous phase to the end of this one, over the whole wall time "
        "(the first phase also holds Zig's start-up).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["modes", "knobs", "cold"])
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--scale", type=float, default=0.3, help="workload size factor (default 0.3)")
    args = ap.parse_args(argv)
    sections = []
    if args.only in (None, "modes"):
        sections.append(modes_section(args.reps, args.scale))
    if args.only in (None, "knobs"):
        sections.append(knobs_section(args.reps, args.scale))
    if args.only in (None, "cold"):
        sections.append(cold_section(measure_cold()))
    print("\n".join(sections), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
