"""The bridge to lua/introspect.lua: the Lua helpers of completion, inspection
and is_complete. The kernel hands `init_script()` to the VM, which runs it in
every new Lua state; `call` runs one helper as a tiny eval.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import abi

if TYPE_CHECKING:
    from .vm import LuaVM

SCRIPT_PATH = Path(__file__).with_name("lua") / "introspect.lua"
REGISTRY_KEY = "lua_wasm.introspect"
# '=' keeps the name as it is in messages; no user cell can be called this.
CHUNK_NAME = "=[lua-wasm introspect]"

# Bytes a Lua string literal may hold as they are: printable ASCII but `"` and `\`.
_UNSAFE = re.compile(rb'[^ !#-\[\]-~]')


def init_script() -> tuple[str, str]:
    """(chunk name, code) for LuaVM(init_scripts=...)."""
    return CHUNK_NAME, SCRIPT_PATH.read_text(encoding="utf-8")


def lua_string(text: str) -> str:
    """`text` as a Lua string literal that reads back byte for byte."""
    raw = _UNSAFE.sub(lambda m: b"\\%03d" % m.group()[0], text.encode("utf-8"))
    return '"' + raw.decode("ascii") + '"'


def call(vm: LuaVM, function: str, *args: str) -> Any:
    """The first value the helper `function` returns, or None if the call failed.

    It fails if the user replaced the global `debug`; then the kernel simply
    offers no completions or inspection.
    """
    arguments = ", ".join(lua_string(a) for a in args)
    code = f'debug.getregistry()["{REGISTRY_KEY}"].{function}({arguments})'
    # The cell may have made what this calls loop forever: a Tab press must not hang.
    result = vm.eval(code, CHUNK_NAME, time_limit_s=abi.INTROSPECTION_TIME_MAX_SECONDS)
    if not result.ok or not result.values:
        return None
    return result.values[0]
