#!/usr/bin/env python
"""Engine benchmarks: Lua in the wasm VM against native Lua 5.4, and VM start.

    python benchmarks/bench_engine.py                 # both sections, markdown on stdout
    python benchmarks/bench_engine.py --only cpu --reps 3
    python benchmarks/bench_engine.py --wasm /tmp/small/lua.wasm --json out.json

When `node` and `npm` are on PATH, wasmoon (WASMOON_SPEC) joins as a column:
npm installs it once into ~/.cache/lua-wasm-bench (never into the repository)
and benchmarks/wasmoon_engine.js runs the same chunks in node. Without them,
or with --no-wasmoon, the column is skipped and the section says why.

Native Lua is lupa's bundled Lua 5.4 (`lupa.lua54`, the same 5.4.8 sources
the VM is built from). Each workload is one chunk, evaluated whole by
`LuaVM.eval` and by `LuaRuntime.execute`, so both sides include compiling
the chunk (well under 1 % of the run). Runs are interleaved (VM, native,
native, VM, ...) after one untimed warm-up each, with a full GC before every
run; the table reports medians of wall time. The workload returns a checksum
that must agree between the two, so both sides do the same work.

Progress goes to stderr; stdout is markdown, one `## ` section per topic, the
format `benchmarks/run_all.py` splices into docs/BENCHMARKS.md. Numbers
belong in that file, never in timed test assertions.
"""
from __future__ import annotations

import argparse
import atexit
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MEMORY_MB_DEFAULT = 32
GOAL_RATIO = 1.3
GOAL_START_MS = 5.0
WASMOON_SPEC = "wasmoon@1.16"  # the peer of issue 9: Lua 5.4 built by emscripten, run by node
WASMOON_SCRIPT = Path(__file__).resolve().parent / "wasmoon_engine.js"


@dataclass(frozen=True)
class Workload:
    name: str
    what: str
    size: int
    code: str  # a chunk that sees `N` and returns a checksum

    def n(self, scale: float = 1.0) -> int:
        if self.name == "fib":  # fib(n + 1) costs about 1.618 times fib(n)
            return self.size + round(math.log(scale) / math.log(1.618))
        return max(1, round(self.size * scale))

    def chunk(self, scale: float = 1.0) -> str:
        return f"local N = {self.n(scale)}\n{textwrap.dedent(self.code)}"

    def describe(self, scale: float = 1.0) -> str:
        return self.what.replace("N", f"{self.n(scale):,}")


# Sizes: each runs 0.2-0.4 s in native Lua on the 2-core reference machine,
# and peaks well below 32 MB of VM memory.
WORKLOADS = [
    Workload("fib", "recursion: naive fib(N)", 32, """
        local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
        return fib(N)
    """),
    Workload("table_insert", "20 × (N `table.insert` + N `t[#t+1]=i`)", 120_000, """
        local insert, total = table.insert, 0
        for r = 1, 20 do
          local t = {}
          for i = 1, N do insert(t, i) end
          for i = 1, N do t[#t + 1] = i end
          total = total + #t
        end
        return total
    """),
    Workload("string_build", "N × (`table.concat` of 200 parts + 50 `..` appends)", 4_000, """
        local concat, total = table.concat, 0
        for r = 1, N do
          local parts = {}
          for i = 1, 200 do parts[#parts + 1] = "item" .. i end
          local s = concat(parts, ",")
          local u = ""
          for i = 1, 50 do u = u .. "x" .. i end
          total = total + #s + #u
        end
        return total
    """),
    Workload("string_format", "N × `string.format` of 5 fields (%d %s %.3f %5.1f %x)", 150_000, """
        local format, total = string.format, 0
        for i = 1, N do
          local s = format("%d:%s:%.3f:%5.1f|%x", i, "abc", i / 7, i * 0.5, i)
          total = total + #s
        end
        return total
    """),
    Workload("sort", "10 × (sort N integers + sort N strings by a Lua comparator)", 12_000, """
        local sort, total, seed = table.sort, 0, 42
        local function rnd() seed = (seed * 1103515245 + 12345) % 2147483648 return seed end
        for r = 1, 10 do
          local a, b = {}, {}
          for i = 1, N do a[i] = rnd() b[i] = tostring(rnd()) end
          sort(a)
          sort(b, function(x, y) return x > y end)
          total = total + a[1] % 1000 + #b[1]
        end
        return total
    """),
    Workload("closures", "N closures over an upvalue, 10 calls each", 400_000, """
        local function counter(step)
          local n = 0
          return function() n = n + step return n end
        end
        local total = 0
        for r = 1, N do
          local c = counter(r % 7 + 1)
          for i = 1, 10 do total = total + c() end
        end
        return total
    """),
    Workload("method_calls", "N × 2 method calls, 2-level metatable inheritance", 1_000_000, """
        local Point = {}
        Point.__index = Point
        function Point.new(x, y) return setmetatable({x = x, y = y}, Point) end
        function Point:add(o) self.x = self.x + o.x self.y = self.y + o.y return self end
        function Point:norm1() return math.abs(self.x) + math.abs(self.y) end
        local Point3 = setmetatable({}, {__index = Point})
        Point3.__index = Point3
        function Point3.new(x, y, z) local p = Point.new(x, y) p.z = z return setmetatable(p, Point3) end
        function Point3:norm1() return Point.norm1(self) + math.abs(self.z) end
        local acc, step, total = Point3.new(0, 0, 0), Point.new(1, -1), 0
        for i = 1, N do
          acc:add(step)
          total = total + acc:norm1() % 3
        end
        return total
    """),
]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def geomean(xs: list[float]) -> float:
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


# -- engines


def make_runtime(wasm: Path | None = None, config: dict[str, object] | None = None, cache_dir: Path | None = None):
    """A Runtime for `wasm`, optionally with extra wasmtime Config settings.

    Variants get their own cache dir (a temp dir unless given) so they never
    touch the user's module cache.
    """
    from lua_wasm_kernel import vm as vm_mod

    extra = dict(config or {})

    class BenchRuntime(vm_mod.Runtime):
        def _config(self):  # type: ignore[override]
            cfg = vm_mod.Runtime._config()
            for key, value in extra.items():
                if key.startswith("cranelift."):  # a raw Cranelift setting
                    cfg.cranelift_flag_set(key.split(".", 1)[1], str(value).lower())
                else:
                    setattr(cfg, key, value)
            return cfg

        def _config_key(self) -> str:
            return super()._config_key() + "".join(f";{k}={v}" for k, v in sorted(extra.items()))

    if cache_dir is None and (wasm is not None or extra):
        cache_dir = Path(tempfile.mkdtemp(prefix="lua-wasm-bench-"))
        atexit.register(shutil.rmtree, cache_dir, True)
    kwargs = {"cache_dir": cache_dir} if cache_dir is not None else {}
    return BenchRuntime(wasm_path=wasm or vm_mod.WASM_PATH, **kwargs)


class WasmEngine:
    def __init__(self, memory_mb: int, runtime=None, label: str = "VM") -> None:
        self.label = label
        from lua_wasm_kernel.vm import LuaVM

        self.vm = LuaVM(memory_bytes=memory_mb * 1024 * 1024, runtime=runtime or make_runtime())

    def run(self, code: str):
        res = self.vm.eval(code, "=bench")
        if not res.ok:
            raise RuntimeError(f"VM eval failed: {res.status.name}: {res.error}")
        return res.values[0] if res.values else None

    def gc(self) -> None:
        self.vm.gc()

    def peak_bytes(self) -> int:
        return self.vm.memory_stats().peak_bytes


class NativeEngine:
    label = "native"

    def __init__(self) -> None:
        from lupa import lua54

        self.lua = lua54.LuaRuntime()

    def run(self, code: str):
        return self.lua.execute(code)

    def gc(self) -> None:
        self.lua.execute("collectgarbage()")


def wasmoon_cache_dir() -> Path:
    """Where npm installs wasmoon: a cache folder outside the repository."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lua-wasm-bench"


def wasmoon_unavailable() -> str | None:
    """Why the wasmoon column cannot run, or None once wasmoon is installed."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return "`node` and `npm` are not both on PATH"
    cache = wasmoon_cache_dir()
    pkg = cache / "node_modules" / "wasmoon" / "package.json"
    want = WASMOON_SPEC.split("@", 1)[1]
    if pkg.is_file() and json.loads(pkg.read_text()).get("version", "").startswith(want + "."):
        return None
    cache.mkdir(parents=True, exist_ok=True)
    if not (cache / "package.json").exists():
        (cache / "package.json").write_text('{"private": true}\n')
    log(f"installing {WASMOON_SPEC} into {cache}")
    proc = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(cache), WASMOON_SPEC],
                          capture_output=True, text=True)
    if proc.returncode != 0 or not pkg.is_file():
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return f"`npm install {WASMOON_SPEC}` failed ({tail[:120]})"
    return None


class WasmoonEngine:
    """wasmoon in a node process (benchmarks/wasmoon_engine.js); it times each run itself."""

    label = "wasmoon"

    def __init__(self) -> None:
        self.proc = subprocess.Popen(["node", str(WASMOON_SCRIPT), str(wasmoon_cache_dir())],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        atexit.register(self.proc.kill)
        hello = json.loads(self.proc.stdout.readline() or "{}")
        if not hello.get("ready"):
            raise RuntimeError("wasmoon_engine.js did not start")
        self.version, self.node_version = hello["version"], hello["node"]
        self._gc_next = False

    def timed_run(self, code: str) -> tuple[object, float, float]:
        self.proc.stdin.write(json.dumps({"code": code, "gc": self._gc_next}) + "\n")
        self._gc_next = False
        reply = json.loads(self.proc.stdout.readline() or '{"error": "node exited"}')
        if "error" in reply:
            raise RuntimeError(f"wasmoon: {reply['error']}")
        return reply["value"], reply["wall"], reply["cpu"]

    def run(self, code: str):
        return self.timed_run(code)[0]

    def gc(self) -> None:
        self._gc_next = True  # done in node just before the next timed chunk


# -- CPU workloads


@dataclass
class Timing:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def add(self, wall: float, cpu: float) -> None:
        self.wall.append(wall)
        self.cpu.append(cpu)

    @property
    def median(self) -> float:
        return statistics.median(self.wall)

    @property
    def median_cpu(self) -> float:
        return statistics.median(self.cpu)

    @property
    def spread(self) -> float:
        """(max - min) / median of wall times: the run-to-run noise."""
        return (max(self.wall) - min(self.wall)) / self.median


def time_once(engine, code: str):
    engine.gc()
    if hasattr(engine, "timed_run"):  # an engine in another process times itself
        return engine.timed_run(code)
    c0, w0 = time.thread_time(), time.perf_counter()
    value = engine.run(code)
    w1, c1 = time.perf_counter(), time.thread_time()
    return value, w1 - w0, c1 - c0


def measure_many(engines: list, reps: int, scale: float = 1.0,
                 names: list[str] | None = None) -> dict[str, list[Timing]]:
    """Timings per workload, one per engine: {name: [Timing, ...]}.

    Engines are interleaved within every repetition, in an order that rotates
    from one repetition to the next, so slow drifts in machine load hit all
    of them alike. The checksums of all engines must agree.
    """
    results: dict[str, list[Timing]] = {}
    for w in WORKLOADS:
        if names and w.name not in names:
            continue
        code = w.chunk(scale)
        values = [time_once(e, code)[0] for e in engines]  # warm-up, and the checksums
        if any(v != values[-1] for v in values):
            raise RuntimeError(f"{w.name}: checksums differ: {values!r}")
        timings = [Timing() for _ in engines]
        order = list(range(len(engines)))
        for rep in range(reps):
            for i in order[rep % len(order):] + order[:rep % len(order)]:
                _, wall, cpu = time_once(engines[i], code)
                timings[i].add(wall, cpu)
            if rep % 2:
                order.reverse()
        base = timings[-1].median
        log(f"  {w.name:14s} " + "  ".join(f"{e.label} {t.median * 1e3:6.1f} ms ({t.median / base:.2f})"
                                           for e, t in zip(engines, timings)))
        results[w.name] = timings
    return results


def measure_cpu(wasm_engine, native_engine, reps: int, scale: float = 1.0,
                names: list[str] | None = None) -> dict[str, tuple[Timing, Timing]]:
    """Median-ready timings per workload: {name: (vm, native)}."""
    many = measure_many([wasm_engine, native_engine], reps, scale, names)
    return {k: (v[0], v[1]) for k, v in many.items()}


def ratios(results: dict[str, tuple[Timing, Timing]], cpu: bool = False) -> list[float]:
    if cpu:
        return [tv.median_cpu / tn.median_cpu for tv, tn in results.values()]
    return [tv.median / tn.median for tv, tn in results.values()]


def best_ratios(results: dict[str, tuple[Timing, Timing]]) -> list[float]:
    """Fastest run against fastest run: the estimate least disturbed by other jobs."""
    return [min(tv.wall) / min(tn.wall) for tv, tn in results.values()]


def pair(many: dict[str, list[Timing]], i: int) -> dict[str, tuple[Timing, Timing]]:
    """Engine i against native (the last engine), per workload."""
    return {k: (v[i], v[-1]) for k, v in many.items()}


def cpu_section(many: dict[str, list[Timing]], labels: list[str], reps: int, memory_mb: int,
                peak_bytes: int, wasm: Path, peer_note: str, scale: float = 1.0) -> str:
    """labels: the engines of `many` but native (the last), the VM first."""
    pairs = [pair(many, i) for i in range(len(labels))]
    gms = [geomean(ratios(r)) for r in pairs]
    worst = max(t.spread for ts in many.values() for t in ts)
    wasm_kb = wasm.stat().st_size / 1024
    lines = [
        "## Engine: Lua in the VM vs native Lua 5.4",
        "",
        f"`python benchmarks/bench_engine.py`: each workload is one chunk run by `LuaVM.eval` "
        f"(memory {memory_mb} MB, `{wasm.name}` {wasm_kb:.0f} KB as built), by native Lua 5.4.8 "
        f"(lupa's `lua54`) and, when node and npm are present, by wasmoon; {reps} timed runs each, "
        f"interleaved, after one warm-up; a full GC precedes every run. Median wall time; "
        f"ratio = engine / native (lower is better). {peer_note}",
        "",
        "| workload | what | " + " | ".join(f"{l} (ms)" for l in labels) + " | native (ms) | "
        + " | ".join(f"{l} ratio" for l in labels) + " |",
        "|---|---|" + "---:|" * (2 * len(labels) + 1),
    ]
    by_name = {w.name: w for w in WORKLOADS}
    for name, ts in many.items():
        lines.append(f"| {name} | {by_name[name].describe(scale)} | "
                     + " | ".join(f"{t.median * 1e3:.1f}" for t in ts) + " | "
                     + " | ".join(f"{t.median / ts[-1].median:.2f}×" for t in ts[:-1]) + " |")
    lines.append("| **geometric mean** | | " + "| " * (len(labels) + 1)
                 + " | ".join(f"**{g:.2f}×**" for g in gms) + " |")
    gm = gms[0]
    verdict = "meets" if gm <= GOAL_RATIO else f"misses by {(gm / GOAL_RATIO - 1) * 100:.0f} %"
    lines += ["", f"- Goal: geometric mean ≤ {GOAL_RATIO}× native: **{verdict}**."]
    if len(labels) > 1:
        lines.append(f"- Against the peer: {labels[0]} / {labels[1]} = {gms[0] / gms[1]:.2f} "
                     f"({'faster' if gms[0] < gms[1] else 'slower'} than {labels[1]}).")
    for label, r in zip(labels, pairs):
        lines.append(f"- Cross-checks, {label}: on CPU time instead of wall time, geometric mean "
                     f"{geomean(ratios(r, cpu=True)):.2f}×; fastest run against fastest run, "
                     f"{geomean(best_ratios(r)):.2f}×.")
    lines += [
        f"- Noise: the widest (max − min) / median over any workload's runs was {worst * 100:.0f} % "
        f"(2 cores shared with other jobs).",
        f"- Peak VM heap use over all workloads: {peak_bytes / 2**20:.1f} MB of {memory_mb} MB.",
    ]
    return "\n".join(lines) + "\n"


# -- VM start (each sample in a fresh process)

START_PROBE = r"""
import json, sys, time
T = time.perf_counter
t0 = T()
from lua_wasm_kernel import vm as V
t1 = T()
marks = {}
class Probe(V.Runtime):
    def _load_module(self, cache_dir):
        s = T(); m = super()._load_module(cache_dir); marks["module"] = T() - s; return m
    def _check_interface(self):
        s = T(); super()._check_interface(); marks["check"] = T() - s
a = T(); rt = Probe(cache_dir=V.Path(sys.argv[1])); b = T()
vm = V.LuaVM(int(sys.argv[2]), rt); c = T()
res = vm.eval("return 1 + 1"); d = T()
assert res.ok and res.values == [2], res
e = T(); vm.eval("return 1 + 1"); f = T()
print(json.dumps(dict(import_vm=t1 - t0, runtime=b - a, module=marks["module"], check=marks.get("check", 0.0),
                      luavm=c - b, first_eval=d - c, total=d - a, second_eval=f - e)))
"""


def start_samples(cache_dir: Path, memory_bytes: int, runs: int, cold: bool) -> list[dict[str, float]]:
    out = []
    for _ in range(runs):
        if cold:
            for p in cache_dir.glob("*"):
                p.unlink()
        proc = subprocess.run([sys.executable, "-c", START_PROBE, str(cache_dir), str(memory_bytes)],
                              cwd=ROOT, capture_output=True, text=True, check=True)
        out.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return out


def measure_start(runs: int, memory_bytes: int) -> dict[str, list[dict[str, float]]]:
    with tempfile.TemporaryDirectory(prefix="lua-wasm-start-") as tmp:
        cache = Path(tmp)
        cold = start_samples(cache, memory_bytes, max(3, runs // 2), cold=True)
        cached = start_samples(cache, memory_bytes, runs, cold=False)
    return {"cold": cold, "cached": cached}


def start_section(samples: dict[str, list[dict[str, float]]], memory_bytes: int) -> str:
    def med(kind: str, key: str) -> float:
        return statistics.median(s[key] for s in samples[kind]) * 1e3

    def p90(kind: str, key: str) -> float:
        xs = sorted(s[key] for s in samples[kind])
        return xs[min(len(xs) - 1, int(0.9 * len(xs)))] * 1e3

    cached_total = med("cached", "total")
    verdict = "meets" if cached_total <= GOAL_START_MS else f"misses by {cached_total - GOAL_START_MS:.1f} ms"
    lines = [
        "## Engine: VM start",
        "",
        "Time from `Runtime(...)` to the first eval's result (`Runtime` + `LuaVM(memory_bytes=...)` + "
        f"`eval(\"return 1 + 1\")`), {memory_bytes // 2**20} MB memory (the default), each sample in a "
        "fresh Python process after `import lua_wasm_kernel.vm`. *Cold*: empty module cache, so wasmtime "
        "compiles lua.wasm (and writes the cache). *Cached*: the compiled module is deserialized from the "
        f"on-disk cache. Medians of {len(samples['cold'])} cold and {len(samples['cached'])} cached runs.",
        "",
        "| start | Runtime (ms) | of which module load | of which interface check | LuaVM (ms) | first eval (ms) | **total (ms)** | p90 total |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind in ("cold", "cached"):
        lines.append(
            f"| {kind} | {med(kind, 'runtime'):.2f} | {med(kind, 'module'):.2f} | {med(kind, 'check'):.2f} "
            f"| {med(kind, 'luavm'):.2f} | {med(kind, 'first_eval'):.2f} | **{med(kind, 'total'):.2f}** "
            f"| {p90(kind, 'total'):.2f} |"
        )
    lines += [
        "",
        f"- Goal: cached start ≤ {GOAL_START_MS:.0f} ms: **{verdict}**.",
        f"- Not included: `import lua_wasm_kernel.vm` (median {med('cached', 'import_vm'):.0f} ms, "
        "mostly importing wasmtime); a second eval takes "
        f"{med('cached', 'second_eval') * 1e3:.0f} µs.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["cpu", "start"], help="run one part only")
    ap.add_argument("--reps", type=int, default=9, help="timed runs per workload and engine (default 9)")
    ap.add_argument("--start-runs", type=int, default=15, help="fresh processes for the cached start (default 15)")
    ap.add_argument("--memory-mb", type=int, default=MEMORY_MB_DEFAULT, help="VM memory for the CPU workloads")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply workload sizes (except fib)")
    ap.add_argument("--workload", action="append", help="run only these workloads (repeatable)")
    ap.add_argument("--wasm", type=Path, help="another lua.wasm (a temp module cache is used)")
    ap.add_argument("--config", action="append", default=[], metavar="KEY=VALUE",
                    help="extra wasmtime.Config setting, e.g. cranelift_opt_level=speed_and_size, "
                         "memory_may_move=false, or a raw Cranelift flag: cranelift.NAME=VALUE")
    ap.add_argument("--no-wasmoon", action="store_true", help="leave out the wasmoon column")
    ap.add_argument("--json", type=Path, help="also write raw timings here")
    args = ap.parse_args(argv)

    from lua_wasm_kernel import abi
    from lua_wasm_kernel.vm import WASM_PATH

    config = {}
    for item in args.config:
        key, _, value = item.partition("=")
        config[key] = {"true": True, "false": False}.get(value.lower(), int(value) if value.isdigit() else value)

    raw: dict[str, object] = {}
    sections = []
    if args.only in (None, "cpu"):
        log(f"CPU workloads, {args.reps} runs each, memory {args.memory_mb} MB")
        wasm_engine = WasmEngine(args.memory_mb, make_runtime(args.wasm, config), "lua-wasm")
        engines: list = [wasm_engine]
        why_not = "`--no-wasmoon` was given" if args.no_wasmoon else wasmoon_unavailable()
        if why_not is None:
            peer = WasmoonEngine()
            engines.append(peer)
            peer_note = (f"wasmoon {peer.version} on node {peer.node_version} (V8), installed by npm into "
                         f"a cache folder outside the repository; it times each run inside node.")
        else:
            peer_note = f"The wasmoon column was skipped: {why_not}."
            log(peer_note)
        many = measure_many(engines + [NativeEngine()], args.reps, args.scale, args.workload)
        sections.append(cpu_section(many, [e.label for e in engines], args.reps, args.memory_mb,
                                    wasm_engine.peak_bytes(), args.wasm or WASM_PATH, peer_note, args.scale))
        results = pair(many, 0)
        raw["cpu"] = {k: {e.label: t.wall for e, t in zip(engines + [NativeEngine], ts)}
                      | {e.label + "_cpu": t.cpu for e, t in zip(engines + [NativeEngine], ts)}
                      for k, ts in many.items()}
        raw["geomean"] = geomean(ratios(results))
        raw["geomean_cpu"] = geomean(ratios(results, cpu=True))
        raw["geomean_best"] = geomean(best_ratios(results))
        if len(engines) > 1:
            raw["geomean_wasmoon"] = geomean(ratios(pair(many, 1)))
    if args.only in (None, "start") and not args.wasm and not config:
        log(f"VM start, {args.start_runs} fresh processes")
        samples = measure_start(args.start_runs, abi.MEMORY_SIZE_DEFAULT_BYTES)
        sections.append(start_section(samples, abi.MEMORY_SIZE_DEFAULT_BYTES))
        raw["start"] = samples
    if args.json:
        args.json.write_text(json.dumps(raw, indent=1))
    print("\n".join(sections), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
