"""Host calls: Lua calling named Python functions (docs/ABI.md, "Host calls").

The engine's `host_call(name, ...)` serializes its arguments and calls the
import `lw_host_call`; the function registered under `name` gets the decoded
arguments, and its result is serialized back and copied into the VM by
`lw_host_take`. The Lua modules display, io.read and require are built on it.
"""
from __future__ import annotations

import logging
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from . import abi, serializer
from .serializer import Reader

if TYPE_CHECKING:
    from .vm import LuaVM

log = logging.getLogger(__name__)

HostFunction = Callable[..., Any]

# The largest reply lw_host_call can announce (its i32 result is -1 - length for errors).
REPLY_SIZE_MAX_BYTES = 2**31 - 2
INTERRUPTED_MESSAGE = "interrupted!"

# The engine's Lua modules (display and help, require), which it
# loads on first use through the built-in host function "lua_wasm.module".
LUA_MODULES_DIR = Path(__file__).with_name("lua")
LUA_MODULES = ("display", "require")
_module_sources: dict[str, bytes] = {}


def module_source(name: Any) -> bytes:
    """The source of one of the engine's Lua modules (read once per process)."""
    if name not in LUA_MODULES:
        raise HostCallError(f"no such module: {name!r}")
    source = _module_sources.get(name)
    if source is None:
        source = _module_sources[name] = (LUA_MODULES_DIR / f"{name}.lua").read_bytes()
    return source


class HostCallError(Exception):
    """An error meant for the Lua caller: its message becomes the Lua error, as it is."""


class HostCalls:
    """The host functions of one LuaVM, and the reply of the call in flight."""

    def __init__(self, vm: LuaVM) -> None:
        self.vm = vm
        self.functions: dict[str, HostFunction] = {"lua_wasm.module": module_source}
        self._reply = b""

    def register(self, name: str, fn: HostFunction | None) -> None:
        """Makes `fn` callable from Lua as `name` (None removes it)."""
        if len(name.encode("utf-8")) > abi.HOST_CALL_NAME_SIZE_MAX_BYTES:
            raise ValueError(f"host function name longer than {abi.HOST_CALL_NAME_SIZE_MAX_BYTES} bytes: {name!r}")
        if fn is None:
            self.functions.pop(name, None)
        else:
            self.functions[name] = fn

    # -- the imports

    def call(self, name_ptr: int, name_len: int, args_ptr: int, args_len: int) -> int:
        """lw_host_call: runs the function; returns the reply length, or -1 - length for an error."""
        self._reply = b""
        try:
            name = self.vm.read(name_ptr, name_len).decode("utf-8", "replace")
            reply = serializer.encode(self._run(name, self._args(args_ptr, args_len)))
            if len(reply) > REPLY_SIZE_MAX_BYTES:
                raise HostCallError(f"the reply of '{name}' is too large ({len(reply)} bytes)")
            self._reply = reply
            return len(reply)
        except HostCallError as e:
            return self._error(str(e))
        except KeyboardInterrupt:
            # The Lua side sees the request and raises the interrupt.
            self._request_interrupt()
            return self._error(INTERRUPTED_MESSAGE)
        except BaseException as e:  # noqa: BLE001 -- an exception escaping a host function traps the VM
            log.exception("host function failed")
            return self._error(f"{type(e).__name__}: {e}")

    def take(self, dst_ptr: int, dst_len: int) -> int:
        """lw_host_take: copies the pending reply to `dst_ptr`; returns the bytes copied."""
        reply, self._reply = self._reply, b""
        assert dst_len == len(reply), (dst_len, len(reply))
        if reply:
            self.vm.write(dst_ptr, reply)
        return len(reply)

    # -- internals

    def _args(self, ptr: int, length: int) -> list[Any]:
        reader = Reader(self.vm.read(ptr, length))
        args = [reader.value() for _ in range(reader.u32())]
        assert reader.offset == length, "host call arguments have trailing bytes"
        return args

    def _run(self, name: str, args: list[Any]) -> Any:
        fn = self.functions.get(name)
        if fn is None:
            raise HostCallError(f"the host has no function '{name}'")
        try:
            return fn(*args)
        except (HostCallError, KeyboardInterrupt):
            raise
        except Exception as e:
            log.debug("host function %r failed", name, exc_info=True)
            raise HostCallError(str(e) or type(e).__name__) from e

    def _error(self, message: str) -> int:
        self._reply = message.encode("utf-8", "replace")[:REPLY_SIZE_MAX_BYTES]
        return -1 - len(self._reply)

    def _request_interrupt(self) -> None:
        """Marks the eval interrupted before returning to it, so the Lua side raises the interrupt."""
        interrupt = getattr(self.vm, "interrupt", None)
        if interrupt is not None and interrupt():
            return
        # No watcher running: interrupt.Signals' first u32 is the interrupt request.
        self.vm.write(self.vm.interrupt_layout["signals_addr"], struct.pack("<I", 1))
