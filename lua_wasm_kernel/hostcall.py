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
from .interrupt import Escalated
from .serializer import Reader

if TYPE_CHECKING:
    from .vm import LuaVM

log = logging.getLogger(__name__)

HostFunction = Callable[..., Any]

# The largest reply lw_host_call can announce (its i32 result is -1 - length for errors).
REPLY_SIZE_MAX_BYTES = 2**31 - 2
INTERRUPTED_MESSAGE = "interrupted!"
# lw_host_take's results: copied, or refused (the engine raises a Lua error).
TAKE_OK = 0
TAKE_REFUSED = -1
_U32_MASK = 0xFFFF_FFFF

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
    """The host functions of one LuaVM, and the reply of the call in flight.

    One reply slot is enough: the engine takes a reply right after the call
    that made it, with nothing in between that could run Lua (src/hostcall.zig),
    and a call nested inside a host function (through a finalizer) has come and
    gone before the outer reply is stored. A reply never taken is dropped by
    the next call, so it is never handed to the wrong one.
    """

    def __init__(self, vm: LuaVM) -> None:
        self.vm = vm
        self.functions: dict[str, HostFunction] = {"lua_wasm.module": module_source}
        self._reply: bytes | None = None

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
        """lw_host_call: runs the function; returns the reply length, or -1 - length for an error.

        Never raises: every failure becomes an error reply (an exception
        escaping into wasmtime would trap the VM)."""
        self._reply = None  # one the engine never took (it failed before its take)
        try:
            if (name_len & _U32_MASK) > abi.HOST_CALL_NAME_SIZE_MAX_BYTES:
                raise HostCallError(f"host function name longer than {abi.HOST_CALL_NAME_SIZE_MAX_BYTES} bytes")
            name = self._read(name_ptr, name_len).decode("utf-8", "replace")
            reply = serializer.encode(self._run(name, self._args(args_ptr, args_len)))
            if len(reply) > REPLY_SIZE_MAX_BYTES:
                raise HostCallError(f"the reply of '{name}' is too large ({len(reply)} bytes)")
            # Stored after the function ran: a call it caused has been taken already.
            self._reply = reply
            return len(reply)
        except HostCallError as e:
            return self._error(str(e))
        except KeyboardInterrupt:
            # The Lua side sees the request and raises the interrupt.
            try:
                self._request_interrupt()
            except Escalated:
                pass  # the memory is locked: the eval is being stopped by force anyway
            return self._error(INTERRUPTED_MESSAGE)
        except BaseException as e:  # noqa: BLE001 -- an exception escaping a host function traps the VM
            log.exception("host function failed")
            return self._error(f"{type(e).__name__}: {e}")

    def take(self, dst_ptr: int, dst_len: int) -> int:
        """lw_host_take: copies the pending reply to `dst_ptr` when `dst_len` is its
        exact length; TAKE_OK, else TAKE_REFUSED. The reply is forgotten either way
        (a take of length 0 is how the engine drops one it has no room for)."""
        reply, self._reply = self._reply, None
        try:
            dst_len &= _U32_MASK
            if reply is None:
                log.warning("lw_host_take: no reply pending")
                return TAKE_REFUSED
            if dst_len != len(reply):
                if dst_len:
                    log.warning("lw_host_take: %d bytes asked, the reply has %d", dst_len, len(reply))
                return TAKE_REFUSED
            if reply:
                self.vm.write(dst_ptr, reply)  # checks the span (vm.span)
            return TAKE_OK
        except Escalated:
            return TAKE_REFUSED
        except Exception as e:  # noqa: BLE001 -- MemoryAccessError; never into wasmtime: it would trap the VM
            log.warning("lw_host_take: %s", e)
            return TAKE_REFUSED

    # -- internals

    def _read(self, ptr: int, length: int) -> bytes:
        """`length` bytes at `ptr` (vm.read checks the span: u32, inside memory)."""
        try:
            return self.vm.read(ptr, length)
        except Escalated:
            raise
        except Exception as e:  # noqa: BLE001 -- MemoryAccessError (vm.py imports this module)
            raise HostCallError(f"host call: {e}") from None

    def _args(self, ptr: int, length: int) -> list[Any]:
        try:
            reader = Reader(self._read(ptr, length))
            args = [reader.value() for _ in range(reader.u32())]
        except serializer.FormatError as e:
            raise HostCallError(f"host call: malformed arguments ({e})") from None
        if reader.offset != len(reader.data):
            raise HostCallError("host call: malformed arguments (trailing bytes)")
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
