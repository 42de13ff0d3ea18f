"""Builds lua_wasm_kernel/lua.wasm: fetch Lua 5.4.8, check it, compile with Zig.

Runs as hatchling's build hook (`pip install .`, `pip install -e .`,
`pip wheel .`) and as a script after editing Zig sources:

    python hatch_build.py            # fetch if needed, then compile
    python hatch_build.py --fetch    # only fetch and unpack the Lua sources
    python hatch_build.py --print-command   # the compile command, not run

The compile is one `zig build-exe` command built here from src/build.zon,
the table build.zig reads too: no `zig build`, whose build runner Zig would
first compile for the host (over half of a first build's time), and no
translate-c (our Zig declares Lua's C API by hand, src/lua_c.zig).

Lua comes from the sdist of the pinned package lupa==2.8, whose
third-party/lua54/ holds upstream Lua 5.4.8 and its test suite (testes/).
It is unpacked into build/lua54/ (git-ignored) and never committed.
Offline: set LUA_WASM_LUA_SRC to a folder with the Lua sources, or
LUA_WASM_LUPA_SDIST to a downloaded lupa-2.8.tar.gz.
"""
from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
LUPA_REQUIREMENT = "lupa==2.8"
LUPA_SDIST = "lupa-2.8.tar.gz"
LUPA_SHA256 = "d8022641b9ec8ecf2c5ecbe9f47e5a70e0b87c4b5ae921b92cb02a638e0acd08"
LUA_PREFIX = "lupa-2.8/third-party/lua54/"
LUA_DIR = ROOT / "build" / "lua54"
STAMP = LUA_DIR / ".sha256"
WASM = ROOT / "lua_wasm_kernel" / "lua.wasm"
SRC = ROOT / "src"
MANIFEST = SRC / "build.zon"
ZIG_CACHE = ROOT / "build" / "zig-cache"
BUILD_OPTIONS = ROOT / "build" / "build_options.zig"
OPTIMIZE_MODES = ("fast", "small", "safe", "debug")


class BuildError(RuntimeError):
    """A build step failed; the message says which and how to fix it."""


def fetch_lua_sources() -> Path:
    """Returns a folder with Lua 5.4.8's sources, fetching them once."""
    override = os.environ.get("LUA_WASM_LUA_SRC")
    if override:
        src = Path(override).resolve()
        if not (src / "lua.h").exists():
            raise BuildError(f"LUA_WASM_LUA_SRC={override} has no lua.h")
        return src
    if STAMP.exists() and STAMP.read_text().strip() == LUPA_SHA256:
        return LUA_DIR
    with tempfile.TemporaryDirectory() as tmp:
        sdist = Path(os.environ.get("LUA_WASM_LUPA_SDIST") or _download(Path(tmp)))
        _verify(sdist)
        _unpack(sdist)
    return LUA_DIR


def _download(dest: Path, sha256: str = LUPA_SHA256) -> Path:
    """The pinned sdist, downloaded by pip in hash-checking mode.

    pip prepares a source distribution's metadata (runs lupa's setup.py)
    while downloading it. With `--require-hashes` it checks the archive's
    hash first: RequirementPreparer._prepare_linked_requirement calls
    unpack_url(..., hashes), which checks the file against the hashes
    (get_http_url/get_file_url) before unpacking it, and only then
    _get_prepared_distribution, which runs setup.py. So nothing from an
    archive that is not the pinned one runs (tests/test_build_hook.py).
    _verify checks the hash again after pip.
    """
    # LUPA_NO_BUNDLE keeps lupa's setup.py from compiling LuaJIT while pip
    # prepares the sdist's metadata (67 s instead of 8 s).
    env = dict(os.environ, LUPA_NO_BUNDLE="true")
    requirements = dest / "lupa-requirement.txt"
    requirements.write_text(f"{LUPA_REQUIREMENT} --hash=sha256:{sha256}\n")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", "lupa", "--require-hashes",
           "-r", str(requirements), "-d", str(dest), "--quiet"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    sdist = dest / LUPA_SDIST
    if proc.returncode != 0 or not sdist.exists():
        raise BuildError(
            f"could not download the Lua sources ({LUPA_REQUIREMENT} sdist, sha256 {sha256}) with pip:\n"
            f"{proc.stderr.strip()}\n"
            "Check that the package index is reachable, or set LUA_WASM_LUPA_SDIST to a "
            "downloaded lupa-2.8.tar.gz, or LUA_WASM_LUA_SRC to a Lua 5.4.8 source folder."
        )
    return sdist


def _verify(sdist: Path) -> None:
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    if digest != LUPA_SHA256:
        raise BuildError(
            f"sha256 mismatch for {sdist.name}: got {digest}, expected {LUPA_SHA256}. "
            "The file is corrupt or not the pinned release; delete it and build again."
        )


def _unpack(sdist: Path) -> None:
    """Extracts the .c/.h files and the test suite (testes/) into build/lua54/."""
    if LUA_DIR.exists():
        shutil.rmtree(LUA_DIR)
    LUA_DIR.mkdir(parents=True)
    with tarfile.open(sdist) as tar:
        for member in tar.getmembers():
            name = member.name
            if not member.isfile() or not name.startswith(LUA_PREFIX):
                continue
            rel = name[len(LUA_PREFIX):]
            wanted = ("/" not in rel and rel.endswith((".c", ".h"))) or rel.startswith("testes/")
            if not wanted or ".." in Path(rel).parts:
                continue
            target = LUA_DIR / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            with tar.extractfile(member) as src, open(target, "wb") as dst:  # type: ignore[union-attr]
                shutil.copyfileobj(src, dst)
    if not (LUA_DIR / "lua.h").exists():
        raise BuildError(f"{sdist.name} has no {LUA_PREFIX}lua.h")
    STAMP.write_text(LUPA_SHA256 + "\n")


BUILD_NOTICE = "lua-wasm: building the Lua engine (a minute or two the first time on a machine, seconds after that)..."


def notice(text: str) -> None:
    """A line the user sees during `pip install .`: pip captures a build
    backend's stdout and stderr and shows them only with -v or on failure
    (pip's call_subprocess), so it also goes to the terminal when there is one."""
    print(text, file=sys.stderr, flush=True)
    if sys.stderr.isatty():
        return  # run as a script: already on the terminal
    try:
        with open("/dev/tty", "w") as tty:  # POSIX; elsewhere, stderr alone
            tty.write(text + "\n")
    except OSError:
        pass


_ZON_TOKEN = re.compile(r'\s+|//[^\n]*|(\.\{|\}|,|=|\.[A-Za-z_][A-Za-z0-9_]*|"(?:[^"\\\n]|\\.)*")')


def parse_zon(text: str) -> object:
    """The subset of ZON that src/build.zon uses: `.{ .name = value, }`
    structs (dicts), `.{ "a", "b" }` tuples (lists) and string literals."""
    tokens: list[str] = []
    pos = 0
    while pos < len(text):
        m = _ZON_TOKEN.match(text, pos)
        if not m:
            raise BuildError(f"{MANIFEST.name}: cannot read {text[pos:pos + 20]!r}")
        if m.group(1):
            tokens.append(m.group(1))
        pos = m.end()
    value, end = _zon_value(tokens, 0)
    if end != len(tokens):
        raise BuildError(f"{MANIFEST.name}: text after the value: {tokens[end]!r}")
    return value


def _zon_value(tokens: list[str], i: int) -> tuple[object, int]:
    if i >= len(tokens):
        raise BuildError(f"{MANIFEST.name}: ends early")
    tok = tokens[i]
    if tok.startswith('"'):
        return tok[1:-1].encode().decode("unicode_escape"), i + 1
    if tok != ".{":
        raise BuildError(f"{MANIFEST.name}: unexpected {tok!r}")
    i += 1
    fields: dict[str, object] = {}
    items: list[object] = []
    while i < len(tokens) and tokens[i] != "}":
        if tokens[i].startswith(".") and tokens[i] != ".{":
            if i + 1 >= len(tokens) or tokens[i + 1] != "=":
                raise BuildError(f"{MANIFEST.name}: {tokens[i]} without `=`")
            fields[tokens[i][1:]], i = _zon_value(tokens, i + 2)
        else:
            item, i = _zon_value(tokens, i)
            items.append(item)
        if i < len(tokens) and tokens[i] == ",":
            i += 1
        elif i < len(tokens) and tokens[i] != "}":
            raise BuildError(f"{MANIFEST.name}: expected `,` or `}}`, got {tokens[i]!r}")
    if i >= len(tokens):
        raise BuildError(f"{MANIFEST.name}: unclosed `.{{`")
    if fields and items:
        raise BuildError(f"{MANIFEST.name}: a struct mixes named and unnamed fields")
    return (fields if fields else items), i + 1


# src/build.zon's fields (build.zig's Manifest struct): lists of strings, and strings.
MANIFEST_LISTS = ("lua_sources", "c_sources", "wasm_only_c_sources", "cold_sources", "cold_flags", "c_flags",
                  "c_macros", "wasm_flags", "wasm_cpu_features_add", "wasm_cpu_features_sub", "exports")
MANIFEST_STRINGS = ("wasm_target", "optimize")


def read_manifest() -> dict:
    """src/build.zon: sources, flags, target features, exports."""
    manifest = parse_zon(MANIFEST.read_text())
    if not isinstance(manifest, dict) or set(manifest) != {*MANIFEST_LISTS, *MANIFEST_STRINGS}:
        raise BuildError(f"{MANIFEST.name} must be a struct of exactly: {', '.join(MANIFEST_LISTS + MANIFEST_STRINGS)}")
    for key in MANIFEST_LISTS:
        if not isinstance(manifest[key], list) or not all(isinstance(v, str) for v in manifest[key]):
            raise BuildError(f"{MANIFEST.name}: .{key} must be a tuple of strings")
    for key in MANIFEST_STRINGS:
        if not isinstance(manifest[key], str):
            raise BuildError(f"{MANIFEST.name}: .{key} must be a string")
    unknown = set(manifest["cold_sources"]) - {*manifest["lua_sources"], *manifest["c_sources"]}
    if unknown:
        raise BuildError(f"{MANIFEST.name}: .cold_sources names files of neither .lua_sources nor .c_sources: "
                         f"{', '.join(sorted(unknown))}")
    return manifest


def stack_size_bytes() -> int:
    """src/limits.zig's stack_size_bytes (its owner; build.zig imports it)."""
    text = (SRC / "limits.zig").read_text()
    m = re.search(r"^pub const stack_size_bytes: u32 = ([0-9_]+(?: \* [0-9_]+)*);", text, re.M)
    if not m:
        raise BuildError("src/limits.zig has no `pub const stack_size_bytes: u32 = <n> [* <m>...];`")
    size = 1
    for factor in m.group(1).split(" * "):
        size *= int(factor.replace("_", ""))
    return size


def wasm_command(lua_src: Path, optimize: str | None = None, out: Path = WASM,
                 cache_dir: Path = ZIG_CACHE) -> list[str]:
    """The one `zig build-exe` command that builds lua.wasm: the same compile
    as build.zig's install step, without zig build's runner."""
    m = read_manifest()
    mode = optimize or m["optimize"]
    if mode not in OPTIMIZE_MODES:
        raise BuildError(f"optimize mode {mode!r} is not one of {', '.join(OPTIMIZE_MODES)}")
    macros = [f"-D{d}" for d in m["c_macros"]]
    c_flags = [*m["c_flags"], *m["wasm_flags"]]
    cpu = "baseline" + "".join(f"-{f}" for f in m["wasm_cpu_features_sub"]) \
        + "".join(f"+{f}" for f in m["wasm_cpu_features_add"])
    cold = set(m["cold_sources"])
    lua_c = [(f in cold, str(lua_src / f)) for f in m["lua_sources"]]
    our_c = [(f in cold, str(SRC / f)) for f in m["c_sources"]]
    # In build.zig's order: hot Lua, hot ours, wasm-only, then the cold files.
    cmd = [sys.executable, "-m", "ziglang", "build-exe", "-fno-entry", "--stack", str(stack_size_bytes()),
           "-cflags", *c_flags, "--", *(path for is_cold, path in lua_c if not is_cold),
           "-cflags", *c_flags, "--", *(path for is_cold, path in our_c if not is_cold),
           "-cflags", *m["wasm_flags"], "--", *(str(SRC / f) for f in m["wasm_only_c_sources"]),
           "-cflags", *c_flags, *m["cold_flags"], "--", *(path for is_cold, path in lua_c + our_c if is_cold),
           "-fstrip", "-fno-stack-protector", "-fno-sanitize-c", "-O", mode,
           "-target", m["wasm_target"], "-mcpu", cpu,
           *(f"--export={e}" for e in m["exports"]),
           "-I", str(lua_src), "-I", str(SRC), *macros,
           "--dep", "build_options", f"-Mroot={SRC / 'main.zig'}", f"-Mbuild_options={BUILD_OPTIONS}",
           "-lc", "--cache-dir", str(cache_dir), "--name", "lua", "--import-memory", "-mexec-model=reactor",
           f"-femit-bin={out}"]
    return cmd


def write_build_options(heap_check: bool = False) -> None:
    """The build_options module build.zig's addOptions makes (src/main.zig)."""
    text = f"pub const heap_check: bool = {'true' if heap_check else 'false'};\n"
    BUILD_OPTIONS.parent.mkdir(parents=True, exist_ok=True)
    if not BUILD_OPTIONS.exists() or BUILD_OPTIONS.read_text() != text:
        BUILD_OPTIONS.write_text(text)


def build_wasm(optimize: str | None = None) -> Path:
    """Fetches the Lua sources and compiles lua.wasm; returns its path."""
    notice(BUILD_NOTICE)
    cmd = wasm_command(fetch_lua_sources(), optimize)
    write_build_options()
    WASM.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(f"zig build-exe failed ({shlex.join(cmd)}):\n{proc.stderr.strip()}")
    if not WASM.exists():
        raise BuildError(f"zig build-exe succeeded but {WASM} is missing")
    return WASM


try:
    from hatchling.builders.hooks.plugin.interface import BuildHookInterface
except ImportError:  # run as a script without hatchling
    BuildHookInterface = object  # type: ignore[misc,assignment]


class CustomBuildHook(BuildHookInterface):  # type: ignore[valid-type,misc]
    """hatchling hook: builds the wasm before the wheel is assembled."""

    def initialize(self, version: str, build_data: dict) -> None:
        if self.target_name != "wheel":
            return
        build_wasm(os.environ.get("LUA_WASM_OPTIMIZE"))


def main(argv: list[str]) -> int:
    try:
        if "--fetch" in argv:
            print(fetch_lua_sources())
        elif "--print-command" in argv:
            print(shlex.join(wasm_command(fetch_lua_sources())))
        else:
            optimize = next((a.split("=", 1)[1] for a in argv if a.startswith("--optimize=")), None)
            print(build_wasm(optimize))
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
