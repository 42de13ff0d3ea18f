"""The built module: what it imports and exports, its size, its memory layout."""
from __future__ import annotations

import subprocess
import sys

import wasmtime

from lua_wasm_kernel import abi
from lua_wasm_kernel.vm import WASM_PATH, Runtime, WasmModuleError

SIZE_CEILING_BYTES = 400 * 1024


def test_imports_only_our_env_functions(runtime: Runtime) -> None:
    imports = sorted((i.module, i.name) for i in runtime.module.imports)
    assert imports == sorted(("env", name) for name in abi.IMPORTS)


def test_exports_match_the_abi(runtime: Runtime) -> None:
    exports = {e.name for e in runtime.module.exports}
    assert set(abi.EXPORTS) <= exports
    assert exports - set(abi.EXPORTS) <= {"_initialize"}


def test_memory_is_imported_with_room_for_stack_and_buffer(runtime: Runtime) -> None:
    (mem,) = [i for i in runtime.module.imports if i.name == "memory"]
    assert mem.type.limits.min * abi.WASM_PAGE_SIZE_BYTES >= abi.STACK_SIZE_BYTES + abi.IO_BUFFER_SIZE_BYTES
    assert mem.type.limits.max is None  # the host picks the (fixed) size


def test_stack_is_placed_first(vm) -> None:
    # Everything static (IO buffer, interrupt signals) lies above the 256 KiB stack.
    assert vm._call("lw_io_buffer") >= abi.STACK_SIZE_BYTES
    assert vm.interrupt_layout["signals_addr"] >= abi.STACK_SIZE_BYTES


def test_size_ceiling() -> None:
    assert WASM_PATH.stat().st_size < SIZE_CEILING_BYTES


def test_stale_or_missing_module_gets_a_clear_message(tmp_path) -> None:
    missing = tmp_path / "lua.wasm"
    try:
        Runtime(wasm_path=missing, cache_dir=tmp_path)
    except WasmModuleError as e:
        assert "hatch_build.py" in str(e)
    else:
        raise AssertionError("a missing module must raise")
    stale = tmp_path / "stale.wasm"
    stale.write_bytes(wasmtime.wat2wasm('(module (func (export "lw_init") (result i32) i32.const 0))'))
    try:
        Runtime(wasm_path=stale, cache_dir=tmp_path)
    except WasmModuleError as e:
        assert "does not match this host" in str(e) and "pip install" in str(e)
    else:
        raise AssertionError("a stale module must raise")


def test_compiled_module_cache_is_reused(tmp_path) -> None:
    Runtime(cache_dir=tmp_path)
    cached = list(tmp_path.glob("lua-*.cwasm"))
    assert len(cached) == 1
    stamp = cached[0].stat().st_mtime_ns
    Runtime(cache_dir=tmp_path)
    assert cached[0].stat().st_mtime_ns == stamp
    # A corrupt cache entry is ignored and replaced.
    cached[0].write_bytes(b"garbage")
    Runtime(cache_dir=tmp_path)
    assert cached[0].read_bytes() != b"garbage"


def test_zig_unit_tests_pass() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run(
        [sys.executable, "-m", "ziglang", "build", "test", f"-Dlua-src={root / 'build' / 'lua54'}",
         "--cache-dir", str(root / "build" / "zig-cache")],
        cwd=root, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]


def test_exports_are_called_through_the_prepared_fast_path(vm) -> None:
    from lua_wasm_kernel.wasm_call import ExportCall

    assert set(vm._fn) == set(abi.EXPORTS)
    assert all(isinstance(f, ExportCall) for f in vm._fn.values())
    assert vm._call("lw_abi_version") == abi.ABI_VERSION
    try:
        vm._call("lw_eval", 1)
    except TypeError as e:
        assert "expected 2 arguments" in str(e)
    else:
        raise AssertionError("a wrong argument count must raise")


def _limits(vm) -> dict[str, int]:
    """The limits the built module exports (lw_limits: a count, then name address, length, value)."""
    import struct

    addr = vm._call("lw_limits")
    (count,) = struct.unpack("<I", vm.read(addr, 4))
    assert 0 < count < 64
    out = {}
    for i in range(count):
        name_ptr, name_len, value = struct.unpack("<3I", vm.read(addr + 4 + 12 * i, 12))
        out[vm.read(name_ptr, name_len).decode("ascii")] = value
    return out


def test_abi_py_mirrors_every_limit_of_the_built_module(vm) -> None:
    limits = _limits(vm)
    assert "serialize_depth_max" in limits and "abi_version" in limits
    for name, value in limits.items():
        assert getattr(abi, name.upper()) == value, name


def test_the_export_list_has_one_owner_build_zon(runtime) -> None:
    """src/build.zon's `exports` owns the list (build.zig and hatch_build.py
    read it): abi.py, the built module and docs/ABI.md follow it."""
    import re

    import hatch_build
    from tests.conftest import ROOT

    owned = hatch_build.read_manifest()["exports"]
    assert tuple(owned) == abi.EXPORTS
    # build.zig keeps no list of its own.
    assert "lw_init" not in (ROOT / "build.zig").read_text()
    built = {e.name for e in runtime.module.exports} - {"_initialize"}
    assert built == set(owned)
    doc = (ROOT / "docs" / "ABI.md").read_text()
    section = doc.split("## Exports", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`(lw_\w+)`", section))
    assert documented == set(owned)
