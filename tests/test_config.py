"""The kernel's settings: traitlets with environment-variable defaults."""
from __future__ import annotations

import pytest
from traitlets import TraitError
from traitlets.config import Config

from lua_wasm_kernel.abi import MEMORY_SIZE_DEFAULT_BYTES
from lua_wasm_kernel.config import KernelSettings, parse_bytes


class LuaWasmKernel(KernelSettings):
    """Stands in for the kernel class, so `c.LuaWasmKernel` config applies."""


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for name in ("LUA_WASM_MEMORY_LIMIT", "LUA_WASM_CHECKPOINT_DIR", "LUA_WASM_INTERRUPT_ESCALATION_DELAY",
                 "LUA_WASM_HISTORY_FILE", "LUA_WASM_RESTORE_SNAPSHOT", "LUA_WASM_ROLLBACK_MEMORY_MAX",
                 "LUA_WASM_STORE_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))


def test_defaults(tmp_path) -> None:
    s = LuaWasmKernel()
    assert s.memory_limit == MEMORY_SIZE_DEFAULT_BYTES == 2 * 2**20
    assert s.checkpoint_dir == ""  # the notebook's .ipynb_checkpoints (persistence.store_folder)
    assert s.restore_snapshot == ""
    assert s.history_file == str(tmp_path / "data" / "lua-wasm" / "history.sqlite")
    assert s.interrupt_escalation_delay > 0


def test_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LUA_WASM_MEMORY_LIMIT", "16M")
    monkeypatch.setenv("LUA_WASM_CHECKPOINT_DIR", "/tmp/ckpt")
    monkeypatch.setenv("LUA_WASM_INTERRUPT_ESCALATION_DELAY", "2.5")
    monkeypatch.setenv("LUA_WASM_HISTORY_FILE", ":memory:")
    s = LuaWasmKernel()
    assert (s.memory_limit, s.checkpoint_dir, s.interrupt_escalation_delay, s.history_file) == (
        16 * 2**20, "/tmp/ckpt", 2.5, ":memory:"
    )


def test_config_wins_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LUA_WASM_MEMORY_LIMIT", "16M")
    c = Config()
    c.LuaWasmKernel.memory_limit = 4 * 2**20
    assert LuaWasmKernel(config=c).memory_limit == 4 * 2**20


@pytest.mark.parametrize("size", ["320K", "384K", "448K", "4G", "5G", "0", "1000"])
def test_memory_limits_outside_the_range_are_refused(monkeypatch: pytest.MonkeyPatch, size: str) -> None:
    # 5-6 pages killed the kernel at start, 4 GiB gave a limit of 0, 5 GiB failed in wasmtime.
    message = "multiple of 64 KiB from 512 KiB to 4194240 KiB"
    with pytest.raises(TraitError, match=message):
        LuaWasmKernel(memory_limit=parse_bytes(size))
    monkeypatch.setenv("LUA_WASM_MEMORY_LIMIT", size)
    with pytest.raises(TraitError, match=message):
        LuaWasmKernel().memory_limit


@pytest.mark.parametrize("size", ["512K", "3G", str(4 * 2**30 - 2**16)])
def test_memory_limits_at_the_ends_of_the_range_are_taken(size: str) -> None:
    assert LuaWasmKernel(memory_limit=parse_bytes(size)).memory_limit == parse_bytes(size)


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(TraitError, match="64 KiB"):
        LuaWasmKernel(memory_limit=1000)
    monkeypatch.setenv("LUA_WASM_MEMORY_LIMIT", "lots")
    with pytest.raises(TraitError, match="LUA_WASM_MEMORY_LIMIT"):
        LuaWasmKernel().memory_limit
    with pytest.raises(TraitError):
        LuaWasmKernel(interrupt_escalation_delay=-1)


@pytest.mark.parametrize(
    "text, n", [("2097152", 2097152), ("2048K", 2 * 2**20), ("2M", 2 * 2**20), ("2MiB", 2 * 2**20), ("1g", 2**30)]
)
def test_parse_bytes(text: str, n: int) -> None:
    assert parse_bytes(text) == n


def test_rollback_size_and_store_name(monkeypatch: pytest.MonkeyPatch) -> None:
    s = LuaWasmKernel()
    assert (s.rollback_memory_max, s.store_name) == (16 * 2**20, "")
    monkeypatch.setenv("LUA_WASM_ROLLBACK_MEMORY_MAX", "64M")
    monkeypatch.setenv("LUA_WASM_STORE_NAME", "analysis.ipynb")
    s = LuaWasmKernel()
    assert (s.rollback_memory_max, s.store_name) == (64 * 2**20, "analysis.ipynb")
