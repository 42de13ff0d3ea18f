"""The kernel's settings: traitlets, each with an environment variable.

Set them in a Jupyter config file (`c.LuaWasmKernel.memory_limit = 16 * 2**20`),
on the command line (`--LuaWasmKernel.memory_limit=...`) or, in a kernelspec,
through its `env` (`"LUA_WASM_MEMORY_LIMIT": "16M"`). A config file or the
command line wins over the environment.
"""
from __future__ import annotations

import os
import re

from traitlets import CaselessStrEnum, Float, Int, TraitError, Unicode, default, validate
from traitlets.config import Configurable

from .abi import MEMORY_SIZE_DEFAULT_BYTES
from .interrupt import ESCALATE_AFTER_SECONDS
from .vm import ROLLBACK_MEMORY_SIZE_MAX_BYTES, check_memory_size

ENV_MEMORY_LIMIT = "LUA_WASM_MEMORY_LIMIT"
ENV_CHECKPOINT_DIR = "LUA_WASM_CHECKPOINT_DIR"
ENV_RESTORE_SNAPSHOT = "LUA_WASM_RESTORE_SNAPSHOT"
ENV_INTERRUPT_ESCALATION_DELAY = "LUA_WASM_INTERRUPT_ESCALATION_DELAY"
ENV_HISTORY_FILE = "LUA_WASM_HISTORY_FILE"
ENV_FILE_ACCESS = "LUA_WASM_FILE_ACCESS"
FILE_ACCESS_VALUES = ("none", "read", "read-write")  # files.FileAccess
ENV_ROLLBACK_MEMORY_MAX = "LUA_WASM_ROLLBACK_MEMORY_MAX"
ENV_STORE_NAME = "LUA_WASM_STORE_NAME"

INTERRUPT_ESCALATION_DELAY_DEFAULT_SECONDS = ESCALATE_AFTER_SECONDS

_SIZE = re.compile(r"\s*(\d+)\s*([kmg]?)(?:i?b)?\s*", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_bytes(text: str) -> int:
    """ "2097152", "2048K", "2M", "2MiB" or "2MB" (all binary units) as bytes."""
    m = _SIZE.fullmatch(text)
    if m is None:
        raise ValueError(f"not a size in bytes: {text!r} (examples: 2097152, 2048K, 16M)")
    return int(m.group(1)) * _SIZE_UNITS[m.group(2).lower()]


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


class KernelSettings(Configurable):
    """Mixed into LuaWasmKernel, so the traits are configured as `c.LuaWasmKernel.*`."""

    memory_limit = Int(
        MEMORY_SIZE_DEFAULT_BYTES,
        config=True,
        help=f"Bytes of linear memory of the Lua VM, a multiple of 64 KiB from 512 KiB to "
        f"4 GiB - 64 KiB (env {ENV_MEMORY_LIMIT}, which also takes 2048K or 16M).",
    )
    rollback_memory_max = Int(
        ROLLBACK_MEMORY_SIZE_MAX_BYTES,
        config=True,
        help="Largest memory_limit for which the kernel copies the VM's memory as each cell "
        "starts, so that a cell stopped by force or trapped rolls back to the state before it "
        f"(env {ENV_ROLLBACK_MEMORY_MAX}, which also takes 64M; 0 turns it off). The copy costs "
        "well under 1 ms per cell at 16 MiB, about 20 ms at 64 MiB (docs/BENCHMARKS.md); above "
        "this size such a cell resets the Lua state instead.",
    )
    checkpoint_dir = Unicode(
        config=True,
        help=f"Directory for the external tables and snapshots (env {ENV_CHECKPOINT_DIR}; "
        "default: .ipynb_checkpoints in the notebook's folder). Each notebook keeps its own "
        "<notebook>.lua-wasm folder inside it.",
    )
    store_name = Unicode(
        config=True,
        help=f"Name of the notebook's store of external tables when the kernel is not told the "
        f"notebook (env {ENV_STORE_NAME}; JPY_SESSION_NAME, set by jupyter_server, wins). Headless "
        "runs (jupyter execute, nbconvert, nbval) have no JPY_SESSION_NAME: without this they share "
        "one 'console' store per folder. Set it to the notebook's file name, e.g. "
        f"{ENV_STORE_NAME}=analysis.ipynb jupyter execute analysis.ipynb.",
    )
    restore_snapshot = Unicode(
        config=True,
        help=f"Name of a snapshot (wasm.snapshot) to restore when the kernel starts (env {ENV_RESTORE_SNAPSHOT}).",
    )
    interrupt_escalation_delay = Float(
        INTERRUPT_ESCALATION_DELAY_DEFAULT_SECONDS,
        config=True,
        help="Seconds an interrupt waits for Lua to stop by itself before the VM is forced to "
        f"stop and rebuilt (env {ENV_INTERRUPT_ESCALATION_DELAY}).",
    )
    history_file = Unicode(
        config=True,
        help=f"SQLite file of the input history (env {ENV_HISTORY_FILE}; default: "
        "lua-wasm/history.sqlite under the Jupyter data directory; empty or ':memory:' to keep "
        "it in memory only).",
    )

    file_access = CaselessStrEnum(
        FILE_ACCESS_VALUES,
        default_value="read",
        config=True,
        help="What Lua's io and os may do with the files of the notebook's folder (relative "
        "names, nothing hidden, nothing outside): 'none', 'read' (io.open(name, 'r'), io.lines, "
        f"io.input) or 'read-write' (also writing, os.remove, os.rename, os.tmpname) (env {ENV_FILE_ACCESS}).",
    )

    @default("file_access")
    def _file_access_default(self) -> str:
        value = _env(ENV_FILE_ACCESS)
        if value is None:
            return "read"
        if value.lower() not in FILE_ACCESS_VALUES:
            raise TraitError(f"{ENV_FILE_ACCESS}: one of {', '.join(FILE_ACCESS_VALUES)}, got {value!r}")
        return value.lower()

    @default("memory_limit")
    def _memory_limit_default(self) -> int:
        value = _env(ENV_MEMORY_LIMIT)
        if value is None:
            return MEMORY_SIZE_DEFAULT_BYTES
        try:
            size = parse_bytes(value)
            check_memory_size(size)  # traitlets does not validate a dynamic default
        except ValueError as e:
            raise TraitError(f"{ENV_MEMORY_LIMIT}: {e}") from None
        return size

    @validate("memory_limit")
    def _check_memory_limit(self, proposal: dict) -> int:
        try:
            check_memory_size(proposal["value"])
        except ValueError as e:
            raise TraitError(f"memory_limit: {e}") from None
        return proposal["value"]

    @default("rollback_memory_max")
    def _rollback_memory_max_default(self) -> int:
        value = _env(ENV_ROLLBACK_MEMORY_MAX)
        if value is None:
            return ROLLBACK_MEMORY_SIZE_MAX_BYTES
        try:
            return parse_bytes(value)
        except ValueError as e:
            raise TraitError(f"{ENV_ROLLBACK_MEMORY_MAX}: {e}") from None

    @default("checkpoint_dir")
    def _checkpoint_dir_default(self) -> str:
        # Empty: the notebook's .ipynb_checkpoints (persistence.store_folder).
        return _env(ENV_CHECKPOINT_DIR) or ""

    @default("store_name")
    def _store_name_default(self) -> str:
        return _env(ENV_STORE_NAME) or ""

    @default("restore_snapshot")
    def _restore_snapshot_default(self) -> str:
        return _env(ENV_RESTORE_SNAPSHOT) or ""

    @default("interrupt_escalation_delay")
    def _interrupt_escalation_delay_default(self) -> float:
        value = _env(ENV_INTERRUPT_ESCALATION_DELAY)
        if value is None:
            return INTERRUPT_ESCALATION_DELAY_DEFAULT_SECONDS
        try:
            return float(value)
        except ValueError:
            raise TraitError(f"{ENV_INTERRUPT_ESCALATION_DELAY}: not a number of seconds: {value!r}") from None

    @validate("interrupt_escalation_delay")
    def _check_interrupt_escalation_delay(self, proposal: dict) -> float:
        if proposal["value"] < 0:
            raise TraitError("interrupt_escalation_delay must not be negative")
        return proposal["value"]

    @default("history_file")
    def _history_file_default(self) -> str:
        value = _env(ENV_HISTORY_FILE)
        if value is not None:
            return value
        from .history import default_path

        return str(default_path())
