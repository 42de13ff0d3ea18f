"""Coverage of the Python host and of the engine's Zig code, from one command.

    python benchmarks/measure_coverage.py            # the default (not slow) test run
    python benchmarks/measure_coverage.py -- -m ''   # any pytest arguments after --

Python: the test suite under coverage.py with [tool.coverage.*] from
pyproject.toml: branches included, the kernel subprocesses the tests start
included (patch = subprocess). The number is lines and branches combined.

Zig: the engine's native unit tests (`zig build test`) run under valgrind's
callgrind, which records every instruction executed; the test binary's DWARF
line table (llvm-dwarfdump) maps them to lines of src/*.zig. Two numbers
(the tests' own code and ffi.zig's stand-ins for them left out of both): lines executed of the lines Zig
compiled into the test binary, and functions
executed of the functions declared in src/*.zig (Zig compiles only what the
tests reference, so the second counts the rest as missed). The function count
leaves out the tests' own helpers and the few functions ZIG_EXCLUDED names,
each with its reason; --list-missed names the functions no test ran. Code that runs
only inside the wasm module is not measured: wasmtime offers no coverage
(docs/RELIABILITY.md, "Coverage").

Exit status: 1 if the Python number is under [tool.coverage.report]
fail_under, or with --require-zig if a Zig number is too; 2 if a tool is missing.
"""
from __future__ import annotations

import argparse
import bisect
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
# Test-only files: not the engine.
ZIG_TEST_FILES = ("tests.zig", "test_harness.zig")
# Declared functions left out of the Zig function count, each for a reason
# (a name of "*" stands for the whole file). Keep this short and honest.
ZIG_EXCLUDED: dict[tuple[str, str], str] = {
    ("main", "*"): "the module's exports; main.zig cannot be built for the host (lw_init needs "
                   "state.initWasm), and the Python tests call every export through wasmtime",
    ("state", "initWasm"): "reads __heap_base and wasm's memory size: wasm only (state.init is tested)",
    ("hostcall", "Stub"): "runs at compile time only: it returns a type (its `call` is tested)",
    ("lua_c_check", "*"): "runs at compile time only: compares lua_c.zig's declarations with "
                          "translate-c's (a mismatch fails the unit tests' build; its tests call it comptime)",
}
DATA_DIR = ROOT / "build" / "coverage"
FAIL_UNDER_DEFAULT = 80.0

log = logging.getLogger("coverage")


@dataclass
class ZigCoverage:
    lines_run: int
    lines_compiled: int
    functions_run: int
    functions_declared: int
    functions_missed: list[tuple[str, str]]

    @property
    def lines_percent(self) -> float:
        return 100.0 * self.lines_run / max(1, self.lines_compiled)

    @property
    def functions_percent(self) -> float:
        return 100.0 * self.functions_run / max(1, self.functions_declared)


# -- Python

def python_coverage(pytest_args: list[str]) -> float:
    """Runs the tests under coverage; returns the total percent."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    for old in DATA_DIR.glob(".coverage*"):
        old.unlink()
    cov = [sys.executable, "-m", "coverage"]
    tests = subprocess.run([*cov, "run", "-m", "pytest", "-q", "-p", "no:cacheprovider", *pytest_args],
                           cwd=ROOT, env=env)
    if tests.returncode not in (0, 1):  # 1: some tests failed; the coverage still counts
        log.warning("pytest exited with %d", tests.returncode)
    subprocess.run([*cov, "combine", "-q"], cwd=ROOT, env=env, check=True)
    subprocess.run([*cov, "report", "--fail-under=0"], cwd=ROOT, env=env, check=True)
    total = subprocess.run([*cov, "report", "--format=total", "--precision=1", "--fail-under=0"],
                           cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return float(total.stdout.strip())


# -- Zig

def zig_test_binary() -> Path:
    """Builds the unit tests and returns the test executable (the newest in .zig-cache)."""
    lua_src = os.environ.get("LUA_WASM_LUA_SRC")
    if not lua_src:
        sys.path.insert(0, str(ROOT))
        import hatch_build

        lua_src = str(hatch_build.fetch_lua_sources())
    build = subprocess.run([sys.executable, "-m", "ziglang", "build", "test", f"-Dlua-src={lua_src}"], cwd=ROOT)
    if build.returncode != 0:
        log.warning("zig build test exited with %d", build.returncode)
    candidates = [p for p in (ROOT / ".zig-cache" / "o").glob("*/test") if p.is_file() and os.access(p, os.X_OK)]
    if not candidates:
        raise RuntimeError("zig build test produced no test executable in .zig-cache/o")
    return max(candidates, key=lambda p: p.stat().st_mtime)


def executed_addresses(binary: Path) -> set[int]:
    """Every instruction address of `binary` that ran (callgrind, uncompressed positions)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--dump-instr=yes",
                        "--dump-line=no", "--compress-pos=no", "--compress-strings=no", str(binary)],
                       check=True, capture_output=True, cwd=tmp)
        addresses: set[int] = set()
        in_binary = False
        for line in out.read_text(errors="replace").splitlines():
            if line.startswith(("ob=", "cob=")):
                if line.startswith("ob="):
                    in_binary = line[3:] == str(binary)
            elif in_binary and line.startswith("0x"):
                addresses.add(int(line.split()[0], 16))
        return addresses


def line_table(binary: Path) -> tuple[list[int], list[tuple[str, int] | None]]:
    """The DWARF line table: row addresses (sorted) and each row's (src file, line), None elsewhere."""
    dump = subprocess.run(["llvm-dwarfdump", "--debug-line", str(binary)], check=True, capture_output=True,
                          text=True).stdout
    rows: list[tuple[int, tuple[str, int] | None]] = []
    dirs: dict[int, str] = {}
    files: dict[int, str] = {}
    pending_name: str | None = None
    for line in dump.splitlines():
        if line.startswith("debug_line["):
            dirs, files = {}, {}
        elif m := re.match(r'include_directories\[\s*(\d+)\] = "(.*)"', line):
            dirs[int(m[1])] = m[2]
        elif m := re.match(r"file_names\[\s*(\d+)\]:", line):
            pending_name, index = None, int(m[1])
        elif m := re.match(r'\s+name: "(.*)"', line):
            pending_name = m[1]
        elif (m := re.match(r"\s+dir_index: (\d+)", line)) and pending_name is not None:
            files[index] = os.path.join(dirs.get(int(m[1]), ""), pending_name)
            pending_name = None
        elif m := re.match(r"0x([0-9a-f]+)\s+(\d+)\s+\d+\s+(\d+)", line):
            path = files.get(int(m[3]), "")
            where = None
            if os.path.dirname(path) == str(SRC) and os.path.basename(path) not in ZIG_TEST_FILES:
                where = (os.path.basename(path), int(m[2])) if int(m[2]) > 0 else None
            rows.append((int(m[1], 16), None if "end_sequence" in line else where))
    rows.sort(key=lambda r: r[0])
    return [r[0] for r in rows], [r[1] for r in rows]


def executed_functions(binary: Path, addresses: set[int]) -> set[tuple[str, str]]:
    """(module, function) pairs of src/*.zig with at least one instruction run (symbols from nm)."""
    symbols = subprocess.run(["nm", "--defined-only", str(binary)], check=True, capture_output=True,
                             text=True).stdout
    # An `export fn` has two names at one address: its C name and the
    # qualified one (files.lw_fclose); the qualified one names the module.
    by_address: dict[int, str] = {}
    for addr, kind, name in (l.split(maxsplit=2) for l in symbols.splitlines() if l.count(" ") >= 2):
        if kind in "tT" and "." not in by_address.get(int(addr, 16), ""):
            by_address[int(addr, 16)] = name
    starts: list[tuple[int, str]] = sorted(by_address.items())
    keys = [s[0] for s in starts]
    run: set[tuple[str, str]] = set()
    for address in addresses:
        i = bisect.bisect_right(keys, address) - 1
        if i >= 0:
            # Generic instances and anonymous types get suffixes (int__func_1007).
            parts = re.sub(r"__(?:anon|func|struct)_\d+", "", starts[i][1]).split(".")
            if len(parts) >= 2:
                run.add((parts[0], parts[-1]))
    return run


def engine_text(path: Path) -> str:
    """The engine's part of a src/*.zig file, with every other line blanked
    (numbers kept): a file's tests (and their helpers) start at its first
    `test` block or its import of the test harness; ffi.zig's `native` struct
    is the host's stand-ins for those tests."""
    lines = path.read_text().split("\n")
    in_stand_ins = False
    for i, line in enumerate(lines):
        if re.match(r'(?:test\b|const harness = @import\("test_harness\.zig"\))', line):
            lines[i:] = [""] * (len(lines) - i)
            break
        if line.startswith("pub const native = struct {"):
            in_stand_ins = True
        if in_stand_ins:
            in_stand_ins = line != "};"
            lines[i] = ""
    return "\n".join(lines)


def declared_functions() -> set[tuple[str, str]]:
    """(module, function) pairs declared in src/*.zig, the tests' own code left out."""
    declared = set()
    for path in sorted(SRC.glob("*.zig")):
        if path.name in ZIG_TEST_FILES:
            continue
        engine = engine_text(path)
        for name in re.findall(r"^\s*(?:pub\s+)?(?:export\s+)?(?:inline\s+)?fn\s+(\w+)\s*\(", engine, re.M):
            if (path.stem, "*") not in ZIG_EXCLUDED and (path.stem, name) not in ZIG_EXCLUDED:
                declared.add((path.stem, name))
    return declared


def zig_coverage() -> ZigCoverage:
    binary = zig_test_binary()
    addresses = executed_addresses(binary)
    row_addresses, row_lines = line_table(binary)
    # Lines of the tests themselves are not the engine's.
    engine_lines = {p.name: [bool(l.strip()) for l in engine_text(p).split("\n")] for p in SRC.glob("*.zig")}
    row_lines = [w if w is not None and w[1] <= len(engine_lines.get(w[0], [])) and engine_lines[w[0]][w[1] - 1]
                 else None for w in row_lines]
    compiled = {w for w in row_lines if w is not None}
    run = set()
    for address in addresses:
        i = bisect.bisect_right(row_addresses, address) - 1
        if i >= 0 and row_lines[i] is not None:
            run.add(row_lines[i])
    declared = declared_functions()
    functions_run = declared & executed_functions(binary, addresses)
    by_file: dict[str, list[int]] = {}
    for file, _ in compiled:
        by_file.setdefault(file, [0, 0])[1] += 1
    for file, _ in run:
        by_file[file][0] += 1
    for file, (hit, total) in sorted(by_file.items()):
        print(f"  src/{file:<16} {hit:5d} / {total:5d} lines  {100.0 * hit / total:5.1f} %")
    return ZigCoverage(len(run), len(compiled), len(functions_run), len(declared), sorted(declared - functions_run))


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-python", action="store_true")
    parser.add_argument("--skip-zig", action="store_true")
    parser.add_argument("--require-zig", action="store_true", help="fail when a Zig number is under the bar too")
    parser.add_argument("--list-missed", action="store_true", help="list the declared Zig functions no test ran")
    parser.add_argument("pytest_args", nargs="*", help="after --: arguments for pytest (default: -m 'not slow')")
    args = parser.parse_args()
    fail_under = FAIL_UNDER_DEFAULT
    failed = False
    lines = []
    if not args.skip_python:
        total = python_coverage(args.pytest_args or ["-m", "not slow"])
        lines.append(f"Python host (lines and branches, kernel subprocesses included): {total:.1f} %")
        failed |= total < fail_under
    if not args.skip_zig:
        missing = [tool for tool in ("valgrind", "llvm-dwarfdump", "nm") if shutil.which(tool) is None]
        if missing:
            lines.append(f"Zig engine: not measured, missing {', '.join(missing)} (Debian: valgrind, llvm, binutils)")
            print("\n".join(lines))
            return 2
        zig = zig_coverage()
        lines.append(f"Zig engine, native unit tests: {zig.lines_percent:.1f} % of compiled lines "
                     f"({zig.lines_run}/{zig.lines_compiled}), {zig.functions_percent:.1f} % of declared functions "
                     f"({zig.functions_run}/{zig.functions_declared})")
        if args.list_missed:
            print("Zig functions no unit test ran:")
            for module, name in zig.functions_missed:
                print(f"  src/{module}.zig {name}")
        lines.append(f"  (left out of the function count: {', '.join(f'{m}.zig {n}' for m, n in ZIG_EXCLUDED)};"
                     " see ZIG_EXCLUDED for why)")
        lines.append("Zig engine inside the wasm module (what the Python tests run): not measured")
        if args.require_zig:
            failed |= min(zig.lines_percent, zig.functions_percent) < fail_under
    print("\n".join(lines))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
