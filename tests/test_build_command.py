"""hatch_build.py's compile: one `zig build-exe` from src/build.zon, the table
build.zig reads too (no build runner, no translate-c on the install path)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import hatch_build

ROOT = Path(__file__).resolve().parent.parent
LUA_SRC = Path(os.environ.get("LUA_WASM_LUA_SRC") or ROOT / "build" / "lua54")


@pytest.fixture(scope="module")
def command() -> list[str]:
    return hatch_build.wasm_command(LUA_SRC)


def test_the_install_path_compiles_no_zig_tool(command) -> None:
    # `zig build` would first compile its build runner for the host, and a
    # translated header its translate-c tool: over three quarters of a cold build.
    zig = command.index("ziglang")
    assert command[zig + 1] == "build-exe"
    assert not any("translate" in arg or arg.endswith((".h", "lua_api.zig")) for arg in command)
    # The product's Zig declares the C API by hand; only the unit tests' check translates.
    importers = [p.name for p in (ROOT / "src").glob("*.zig") if "lua_api_translated" in p.read_text()]
    assert importers == ["lua_c_check.zig"]


def test_the_command_carries_the_manifest(command) -> None:
    manifest = hatch_build.read_manifest()
    for name in manifest["lua_sources"]:
        assert str(LUA_SRC / name) in command
    for name in [*manifest["c_sources"], *manifest["wasm_only_c_sources"]]:
        assert str(ROOT / "src" / name) in command
    for name in manifest["exports"]:
        assert f"--export={name}" in command
    cpu = command[command.index("-mcpu") + 1]
    assert "+exception_handling" in cpu and "-bulk_memory" in cpu
    assert f"-O" in command and command[command.index("-O") + 1] == manifest["optimize"]
    assert command[command.index("--stack") + 1] == str(hatch_build.stack_size_bytes())
    assert "-DLUA_USER_H=\"lua_user.h\"" in command
    assert {"-fstrip", "--import-memory", "-mexec-model=reactor", "-fno-entry"} <= set(command)


def flags_per_file(command: list[str]) -> dict[str, list[str]]:
    """Each C file of the command and the `-cflags ... --` group it is in."""
    files: dict[str, list[str]] = {}
    flags: list[str] = []
    i = 0
    while i < len(command):
        if command[i] == "-cflags":
            end = command.index("--", i)
            flags, i = command[i + 1:end], end + 1
            continue
        if command[i].endswith(".c"):
            assert command[i] not in files, f"{command[i]} compiled twice"
            files[command[i]] = flags
        i += 1
    return files


# Where the engine spends its time (bench_engine.py's workloads): never compiled for size.
HOT_C_FILES = ("lvm_calls.c", "ldo.c", "ltable.c", "lgc.c", "lstring.c", "lapi_libs.c",
               "lobject.c", "ltm.c", "lfunc.c", "ldebug.c", "lutf8lib.c", "lcorolib.c", "liolib.c",
               "box_alloc.c", "numfmt.c")


def test_cold_files_alone_are_compiled_for_size(command) -> None:
    manifest = hatch_build.read_manifest()
    cold, cold_flags = manifest["cold_sources"], manifest["cold_flags"]
    assert cold and cold_flags
    assert not set(HOT_C_FILES) & set(cold)
    files = flags_per_file(command)
    for path, flags in files.items():
        name = Path(path).name
        if name in manifest["wasm_only_c_sources"]:
            continue
        base = [*manifest["c_flags"], *manifest["wasm_flags"]]
        # The cold flags come last, so their -O overrides the mode's.
        assert flags == (base + cold_flags if name in cold else base), name
    assert {Path(p).name for p in files} >= {*manifest["lua_sources"], *manifest["c_sources"]}


def included_lua_files(ours: Path) -> list[str]:
    """The fetched .c files one of our C files compiles by #include, in order."""
    return re.findall(r'^#include "(l\w+\.c)"', ours.read_text(), re.MULTILINE)


def test_every_lua_file_is_compiled_once() -> None:
    """Each fetched file the module needs is in .lua_sources or included by exactly one of our files."""
    manifest = hatch_build.read_manifest()
    included = [f for ours in manifest["c_sources"] for f in included_lua_files(hatch_build.SRC / ours)]
    assert included, "src/lvm_calls.c and src/lapi_libs.c include lvm.c, lapi.c and libraries"
    everything = [*manifest["lua_sources"], *included]
    assert len(everything) == len(set(everything)), "a Lua file compiled twice"
    assert {"lvm.c", "lapi.c", "lauxlib.c", "lstrlib.c", "lbaselib.c", "lmathlib.c", "ltablib.c"} <= set(included)


def test_every_lua_user_h_block_of_a_unit_applies() -> None:
    """lua_user.h is read once per unit, at its first include: a unit must define the `<name>_c`
    of each of its files that has a block there before any include, or the block would silently
    not apply."""
    blocks = set(re.findall(r"defined\((l\w+)_c\)", (hatch_build.SRC / "lua_user.h").read_text()))
    assert {"lstrlib", "lauxlib", "liolib"} <= blocks  # the pattern still reads the header
    for ours in hatch_build.read_manifest()["c_sources"]:
        text = (hatch_build.SRC / ours).read_text()
        files = included_lua_files(hatch_build.SRC / ours)
        if not files:
            continue
        before = text[:text.index("#include")]
        defined = set(re.findall(r"^#define (l\w+)_c\b", before, re.MULTILINE))
        needed = {Path(f).stem for f in files} & blocks
        assert needed <= defined, f"{ours}: define {sorted(needed - defined)} before its first include"


def test_a_cold_source_that_is_not_a_source_is_refused(tmp_path: Path, monkeypatch) -> None:
    good = hatch_build.MANIFEST.read_text()
    text = good.replace(".cold_sources = .{", '.cold_sources = .{ "lvm_typo.c",')
    assert text != good
    (tmp_path / "build.zon").write_text(text)
    monkeypatch.setattr(hatch_build, "MANIFEST", tmp_path / "build.zon")
    with pytest.raises(hatch_build.BuildError, match="lvm_typo.c"):
        hatch_build.read_manifest()


def test_an_unknown_optimize_mode_is_refused() -> None:
    with pytest.raises(hatch_build.BuildError, match="optimize mode"):
        hatch_build.wasm_command(LUA_SRC, "ReleaseFast")


def test_the_zon_reader() -> None:
    text = '''// a comment
    .{
        .a = .{ "x", "y\\"z" }, // trailing comment
        .b = "one",
        .c = .{ .d = .{"e"} },
        .empty = .{},
    }'''
    assert hatch_build.parse_zon(text) == {"a": ["x", 'y"z'], "b": "one", "c": {"d": ["e"]}, "empty": []}


@pytest.mark.parametrize("text", ['.{ .a = "x" ', '.{ .a "x" }', '.{ "x" "y" }', '.{ .a = 1 }', '.{ .a = "x", "y" }', '.{} .{}'])
def test_the_zon_reader_refuses_what_it_does_not_know(text: str) -> None:
    with pytest.raises(hatch_build.BuildError):
        hatch_build.parse_zon(text)


def test_a_manifest_of_another_shape_is_refused(tmp_path: Path, monkeypatch) -> None:
    good = hatch_build.MANIFEST.read_text()
    for text in (good.replace(".optimize = \"fast\"", ".optimize = .{\"fast\"}"),
                 good.replace(".c_flags = .{", ".c_flag = .{"),
                 good.replace(".exports = .{", ".exports = \"lw_init\", .unused = .{")):
        assert text != good
        (tmp_path / "build.zon").write_text(text)
        monkeypatch.setattr(hatch_build, "MANIFEST", tmp_path / "build.zon")
        with pytest.raises(hatch_build.BuildError):
            hatch_build.read_manifest()


@pytest.mark.slow
def test_zig_build_makes_the_same_module(tmp_path: Path) -> None:
    """build.zig (unit tests, heap-check builds) reads the same table: both
    ways give the same bytes."""
    hatch_build.write_build_options()
    ours = tmp_path / "ours" / "lua.wasm"
    ours.parent.mkdir()
    subprocess.run(hatch_build.wasm_command(LUA_SRC, out=ours), cwd=ROOT, check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "ziglang", "build", f"-Dlua-src={LUA_SRC}", "--prefix", str(tmp_path / "zig"),
                    "--cache-dir", str(hatch_build.ZIG_CACHE)], cwd=ROOT, check=True, capture_output=True)
    assert ours.read_bytes() == (tmp_path / "zig" / "lua.wasm").read_bytes()


@pytest.mark.slow
def test_a_wheel_builds_from_the_sdist(tmp_path: Path) -> None:
    """`pip install .` from a source distribution: the sdist carries what the
    compile reads (src/build.zon included) and no lua.wasm."""
    subprocess.run([sys.executable, "-m", "hatchling", "build", "-t", "sdist", "-d", str(tmp_path / "dist")],
                   cwd=ROOT, check=True, capture_output=True)
    (sdist,) = (tmp_path / "dist").glob("*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = tar.getnames()
        assert not any(n.endswith("lua.wasm") for n in names)
        assert any(n.endswith("src/build.zon") for n in names)
        tar.extractall(tmp_path / "unpacked", filter="data")
    (source,) = (tmp_path / "unpacked").iterdir()
    env = dict(os.environ, LUA_WASM_LUA_SRC=str(LUA_SRC.resolve()))
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path / "wheel"), "-q"], check=True, env=env, timeout=1200)
    (wheel,) = (tmp_path / "wheel").glob("*.whl")
    wasm = zipfile.ZipFile(wheel).read("lua_wasm_kernel/lua.wasm")
    assert wasm[:4] == b"\0asm"
