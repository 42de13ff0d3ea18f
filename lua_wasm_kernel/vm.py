"""The wasm runtime: one engine and compiled module, one VM instance per LuaVM.

`Runtime` loads lua.wasm (compiling it once, then from an on-disk cache) and
`LuaVM` owns a store, a fixed-size memory and an instance: eval, output,
memory stats, GC and reset. The ABI is docs/ABI.md; abi.py mirrors it.
"""
from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import struct
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import wasmtime

from . import abi
from .abi import Status, Stream
from .interrupt import Escalated, InterruptWatcher
from .ext_tables import ExtStore
from .files import Files
from .hostcall import HostCalls, HostFunction
from .serializer import FormatError, Reader
from .wasm_call import ExportCall

log = logging.getLogger(__name__)

OutputCallback = Callable[[Stream, str], None]

WASM_PATH = Path(__file__).with_name("lua.wasm")
REBUILD_HINT = "rebuild it with `python hatch_build.py` in a source checkout, or reinstall with `pip install .`"


# The per-cell copy of linear memory that a trap rolls back to is taken only
# up to this memory size: about 0.06 ms per cell at 2 MiB, 0.7 ms at 16 MiB, 20 ms
# at 64 MiB (benchmarks/bench_rollback.py, docs/BENCHMARKS.md). Above it a trap resets.
ROLLBACK_MEMORY_SIZE_MAX_BYTES = 16 * 1024 * 1024

ROLLED_BACK = "the Lua state was rolled back to before this cell; external tables are not rolled back"


class WasmModuleError(RuntimeError):
    """lua.wasm is missing, stale or unusable."""


class MemoryAccessError(RuntimeError):
    """The VM handed the host a pointer or length outside its linear memory.

    Raised inside a host import, it traps the instance (the host rebuilds it):
    a VM that does this has lost its own invariants and is not trusted again."""


U32_MAX = 2**32 - 1
# Offsets in lua_State and CallInfo are small (about 100 bytes on wasm32).
STRUCT_OFFSET_MAX_BYTES = 1024
# interrupt.Layout words that are addresses, with the bytes each must have room for.
INTERRUPT_LAYOUT_ADDRESSES = {"signals_addr": 8, "current_thread_addr": 4, "output_ring_addr": 12}
INTERRUPT_LAYOUT_OFFSETS = {
    "off_hook": 4, "off_hookmask": 4, "off_basehookcount": 4, "off_hookcount": 4, "off_ci": 4,
    "off_ci_trap": 4, "off_ci_previous": 4, "off_ci_callstatus": 2,
}


class EvalAborted(RuntimeError):
    """A host callback raised during an eval (its exception is the __cause__);
    the VM's state was rolled back or reset, as the message says."""


@dataclass
class EvalResult:
    """What one eval produced."""

    status: Status
    values: list[Any] = field(default_factory=list)
    display: list[str] = field(default_factory=list)
    error: str | None = None
    traceback: str | None = None
    ename: str | None = None  # overrides the name the kernel derives from `status`

    @property
    def ok(self) -> bool:
        return self.status == Status.OK


@dataclass(frozen=True)
class MemoryStats:
    used_bytes: int
    peak_bytes: int
    limit_bytes: int
    heap_capacity_bytes: int
    lua_bytes: int


def _trap_reason(error: Exception) -> str:
    """The useful line of a wasmtime trap: its cause, not its wasm backtrace."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    # wasmtime puts the backtrace first and the cause ("Caused by: ...") last.
    cause = lines[-1] if lines else type(error).__name__
    return cause.removeprefix("Caused by:").strip().lstrip("0123456789: ") or cause


def check_memory_size(memory_bytes: int) -> None:
    """Refuses a memory size the VM cannot run with, naming the valid range."""
    low, high = abi.MEMORY_SIZE_MIN_BYTES, abi.MEMORY_SIZE_MAX_BYTES
    if not isinstance(memory_bytes, int) or not low <= memory_bytes <= high or memory_bytes % abi.WASM_PAGE_SIZE_BYTES:
        raise ValueError(
            f"the memory limit must be a multiple of 64 KiB from {low // 1024} KiB to {high // 1024} KiB "
            f"(4 GiB - 64 KiB), got {memory_bytes}"
        )


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "lua-wasm"


class Runtime:
    """The engine and the compiled module, shared by every VM of a process."""

    def __init__(self, wasm_path: Path = WASM_PATH, cache_dir: Path | None = None) -> None:
        self.wasm_path = Path(wasm_path)
        self.config = self._config()
        self.engine = wasmtime.Engine(self.config)
        self._pages_min: int | None = None
        self.module = self._load_module(cache_dir if cache_dir is not None else default_cache_dir())

    @staticmethod
    def _config() -> wasmtime.Config:
        config = wasmtime.Config()
        config.wasm_exceptions = True
        # Refuse memory.copy/fill: wasmtime runs them in host code, where the
        # interrupt escalation's mprotect would crash the process (interrupt.py).
        config.wasm_bulk_memory = False
        config.cranelift_opt_level = "speed"
        return config

    def _config_key(self) -> str:
        return "exceptions=1;bulk=0;opt=speed"

    def _load_module(self, cache_dir: Path) -> wasmtime.Module:
        """The compiled module: deserialized from the cache, else compiled, checked and cached."""
        try:
            stat = self.wasm_path.stat()
        except FileNotFoundError:
            raise WasmModuleError(f"{self.wasm_path} does not exist: {REBUILD_HINT}") from None
        cached = cache_dir / f"lua-{self._cache_key(stat)}.cwasm"
        if cached.exists():
            try:
                # Entries are written only after _check_interface passed, and the
                # key covers the host ABI, so a hit skips the check (0.5-0.7 ms).
                return wasmtime.Module.deserialize_file(self.engine, str(cached))
            except wasmtime.WasmtimeError as e:
                log.warning("ignoring unusable module cache %s: %s", cached, e)
        try:
            self.module = wasmtime.Module(self.engine, self.wasm_path.read_bytes())
        except wasmtime.WasmtimeError as e:
            raise WasmModuleError(f"{self.wasm_path} is not a valid module ({e}): {REBUILD_HINT}") from None
        self._check_interface()
        self._store_cache(cached, self.module)
        return self.module

    def _cache_key(self, stat: os.stat_result) -> str:
        """Names the cache entry without reading or hashing lua.wasm.

        Like a .pyc, the entry is keyed by the file's path, size and mtime, not
        its contents; plus the wasmtime build, the engine config and the host
        ABI. (importlib.metadata.version("wasmtime") alone took 5 ms.)
        """
        parts = (
            os.path.abspath(self.wasm_path), stat.st_size, stat.st_mtime_ns,
            self._wasmtime_build(), self._config_key(), abi.ABI_VERSION, abi.EXPORTS, abi.IMPORTS,
        )
        return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]

    @staticmethod
    def _wasmtime_build() -> str:
        """Identifies the wasmtime library that compiled the code: its size and mtime."""
        try:
            lib = os.stat(wasmtime._ffi.dll._name)  # the loaded libwasmtime
            return f"lib:{lib.st_size}:{lib.st_mtime_ns}"
        except (AttributeError, OSError):
            from importlib import metadata  # slow (~5 ms): only when the library is not found

            return "version:" + metadata.version("wasmtime")

    @staticmethod
    def _store_cache(path: Path, module: wasmtime.Module) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                f.write(module.serialize())
            os.replace(tmp, path)
        except OSError as e:
            log.warning("cannot cache the compiled module in %s: %s", path.parent, e)

    def _check_interface(self) -> None:
        """A stale build says so, instead of failing later with a wasmtime error."""
        exports = {e.name for e in self.module.exports}
        imports = {(i.module, i.name) for i in self.module.imports}
        missing = [name for name in abi.EXPORTS if name not in exports]
        unknown = sorted(f"{m}.{n}" for m, n in imports if m != "env" or n not in abi.IMPORTS)
        if missing or unknown:
            raise WasmModuleError(
                f"{self.wasm_path} does not match this host (missing exports {missing}, "
                f"unknown imports {unknown}): {REBUILD_HINT}"
            )

    def memory_pages_min(self) -> int:
        if self._pages_min is None:  # each look at module.imports costs about 0.1 ms
            for imp in self.module.imports:
                if imp.name == "memory":
                    self._pages_min = imp.type.limits.min
                    break
            else:
                raise WasmModuleError("the module does not import its memory")
        return self._pages_min


class LuaVM:
    """One Lua state in one wasm instance, with a fixed memory of `memory_bytes`."""

    def __init__(
        self,
        memory_bytes: int = abi.MEMORY_SIZE_DEFAULT_BYTES,
        runtime: Runtime | None = None,
        init_scripts: Sequence[tuple[str, str]] = (),
        rollback_bytes_max: int = ROLLBACK_MEMORY_SIZE_MAX_BYTES,
    ) -> None:
        self.runtime = runtime or Runtime()
        # (chunk name, Lua code) pairs run in every new Lua state: the kernel's helpers.
        self.init_scripts = list(init_scripts)
        check_memory_size(memory_bytes)
        floor = self.runtime.memory_pages_min() * abi.WASM_PAGE_SIZE_BYTES
        if memory_bytes < floor:  # a build whose static data outgrew MEMORY_SIZE_MIN_BYTES
            raise ValueError(f"this build of lua.wasm needs a memory of at least {floor} bytes, got {memory_bytes}")
        self.memory_bytes = memory_bytes
        # The memory as the running cell started (a trap rolls back to it), or
        # None when memory_bytes is above rollback_bytes_max (a trap resets).
        self._rollback: bytearray | None = bytearray(memory_bytes) if memory_bytes <= rollback_bytes_max else None
        self._rollback_valid = False
        self.host_calls = HostCalls(self)
        # External tables (ext_tables.py): host-side, so they outlive a reset.
        self.ext = ExtStore()
        self.ext.register(self)
        # Files of the notebook's folder (files.py): none until configured.
        self.files = Files()
        # Interrupts, streamed output (output_ring.py) and escalation
        # (interrupt.py): one thread, started by an eval, ending 2 s after the
        # last one or with this VM.
        self.watcher = InterruptWatcher()
        weakref.finalize(self, self.watcher.close)
        self._instantiate()

    # -- lifecycle

    def _instantiate(self) -> None:
        rt = self.runtime
        self.watcher.output.detach()  # until attach(): the new module's init may call lw_host_output
        self.store = wasmtime.Store(rt.engine)
        pages = self.memory_bytes // abi.WASM_PAGE_SIZE_BYTES
        # min == max: the memory can never grow, so its base address never moves.
        self.memory = wasmtime.Memory(self.store, wasmtime.MemoryType(wasmtime.Limits(pages, pages)))
        linker = wasmtime.Linker(rt.engine)
        linker.define(self.store, "env", "memory", self.memory)
        i32, f64 = wasmtime.ValType.i32(), wasmtime.ValType.f64()
        # Imports that run Python for long, or touch memory, go through _in_host:
        # the watcher never stops the VM by force while Python code runs.
        # lw_host_output marks only its callback as host code (output_ring.py): it
        # is called often (the quarantine's synchronization) and mostly finds nothing.
        linker.define_func("env", "lw_host_output", wasmtime.FuncType([], []), self._host_output)
        linker.define_func("env", "lw_host_now", wasmtime.FuncType([i32], [f64]), self._host_now)
        host_calls = self.host_calls
        linker.define_func("env", "lw_host_call", wasmtime.FuncType([i32] * 4, [i32]), self._in_host(host_calls.call))
        linker.define_func("env", "lw_host_take", wasmtime.FuncType([i32, i32], [i32]), self._in_host(host_calls.take))
        self.ext.define_imports(linker, self)
        self.files.define_imports(linker, self)
        self.instance = linker.instantiate(self.store, rt.module)
        exports = self.instance.exports(self.store)
        self._fn = {name: ExportCall(self.store, exports[name]) for name in abi.EXPORTS}
        self._base = ctypes.addressof(self.memory.data_ptr(self.store).contents)
        if "_initialize" in exports:
            exports["_initialize"](self.store)
        version = self._call("lw_abi_version")
        if version != abi.ABI_VERSION:
            raise WasmModuleError(f"lua.wasm speaks ABI {version}, this host {abi.ABI_VERSION}: {REBUILD_HINT}")
        io_size = self._call("lw_io_buffer_size")
        if io_size != abi.IO_BUFFER_SIZE_BYTES:
            raise WasmModuleError(f"lua.wasm has an IO buffer of {io_size} bytes, this host {abi.IO_BUFFER_SIZE_BYTES}: {REBUILD_HINT}")
        status = self._call("lw_init")
        if status != Status.OK:
            raise MemoryError(f"cannot create a Lua state in {self.memory_bytes} bytes (status {status})")
        self.interrupt_layout = self._check_layout(dict(
            zip(abi.INTERRUPT_LAYOUT_FIELDS, self._read_u32s(self._call("lw_interrupt_layout"), len(abi.INTERRUPT_LAYOUT_FIELDS)))
        ))
        self.watcher.attach(
            self._base, self.memory_bytes, self.interrupt_layout, self._call("lw_io_buffer"), abi.IO_BUFFER_SIZE_BYTES
        )
        self._oom_where = self._call_u32("lw_oom_where")
        self._run_init_scripts()

    def _check_layout(self, layout: dict[str, int]) -> dict[str, int]:
        """The interrupt layout, refused unless every word is plausible: the
        watcher thread writes through it (docs/ABI.md, "Layout")."""
        for name, size in INTERRUPT_LAYOUT_ADDRESSES.items():
            addr = layout[name]
            if addr == 0 or addr % 4 or addr + size > self.memory_bytes:
                raise WasmModuleError(f"lua.wasm's interrupt layout has a bad {name} ({addr}): {REBUILD_HINT}")
        for name, align in INTERRUPT_LAYOUT_OFFSETS.items():
            offset = layout[name]
            if offset % align or offset + align > STRUCT_OFFSET_MAX_BYTES:
                raise WasmModuleError(f"lua.wasm's interrupt layout has a bad {name} ({offset}): {REBUILD_HINT}")
        if layout["hook_fn"] == 0 or layout["hook_mask"] == 0 or layout["cist_c"] == 0 or layout["cist_c"] > 0xFFFF:
            raise WasmModuleError(f"lua.wasm's interrupt layout is not usable ({layout}): {REBUILD_HINT}")
        return layout

    def _run_init_scripts(self) -> None:
        """Host Lua (the kernel's helpers) runs in each new state, before any cell."""
        for name, code in self.init_scripts:
            result = self.eval(code, name)
            if not result.ok:
                raise WasmModuleError(f"init script {name} failed: {result.error}")

    def register_host_function(self, name: str, fn: HostFunction | None) -> None:
        """Makes `fn` callable from Lua (see hostcall.py): it gets the decoded
        arguments and returns a value serializer.encode accepts; its
        exceptions become Lua errors. It must not call back into this VM."""
        self.host_calls.register(name, fn)

    def _in_host(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Wraps a host import: no escalation while it runs (interrupt.py)."""

        def host_import(*args: Any) -> Any:
            watcher = self.watcher
            watcher.enter_host()
            try:
                return fn(*args)
            finally:
                watcher.leave_host()

        return host_import

    def reset(self) -> None:
        """Throws the instance away and starts a fresh Lua state."""
        self._instantiate()

    def _call(self, name: str, *args: int) -> Any:
        return self._fn[name](*args)

    # -- memory access (the base never moves: min == max pages)

    # Every host access to linear memory goes through read() and write(): they
    # hold the watcher's lock and refuse once it has protected the memory to
    # stop a runaway eval (touching it then would crash the process).

    # Pointers and lengths come from wasm as i32: each is taken as an unsigned
    # 32-bit value and the span checked against the memory's size, here, for
    # every caller (host output, host calls, replies, ext, snapshots).

    def span(self, ptr: int, length: int) -> tuple[int, int]:
        """(ptr, length) as unsigned 32-bit values, if they lie inside linear
        memory; else MemoryAccessError. Never an assert: gone under -O."""
        for value in (ptr, length):
            if not isinstance(value, int) or not -(2**31) <= value <= U32_MAX:
                raise MemoryAccessError(f"{value!r} is not a 32-bit pointer or length")
        ptr &= U32_MAX
        length &= U32_MAX
        if length > self.memory_bytes or ptr > self.memory_bytes - length:
            raise MemoryAccessError(
                f"the VM passed {length} bytes at {ptr}, outside its memory of {self.memory_bytes} bytes"
            )
        return ptr, length

    def read(self, ptr: int, length: int) -> bytes:
        ptr, length = self.span(ptr, length)
        with self.watcher.lock:
            if self.watcher.poisoned:
                raise Escalated("the VM's memory is locked: the eval is being stopped by force")
            return ctypes.string_at(self._base + ptr, length)

    def write(self, ptr: int, data: bytes) -> None:
        ptr, length = self.span(ptr, len(data))
        if ptr == 0 and length:
            raise MemoryAccessError(f"the VM asked for {length} bytes at address 0")
        with self.watcher.lock:
            if self.watcher.poisoned:
                raise Escalated("the VM's memory is locked: the eval is being stopped by force")
            ctypes.memmove(self._base + ptr, data, length)

    # -- whole-VM images (snapshot.py)

    def save_image(self) -> bytes:
        """The whole linear memory. Between evals it is the VM's entire state:
        the only mutable wasm global, the stack pointer, is back at its start."""
        return self.read(0, self.memory_bytes)

    def load_image(self, image: bytes) -> None:
        """Replaces the Lua state by a save_image() of the same module and size,
        written into a fresh instance."""
        if len(image) != self.memory_bytes:
            raise ValueError(f"an image of {len(image)} bytes for a memory of {self.memory_bytes}")
        self._instantiate()
        with self.watcher.lock:
            if self.watcher.poisoned:
                raise Escalated("the VM's memory is locked: the eval is being stopped by force")
            ctypes.memmove(self._base, image, len(image))

    def _read_u32s(self, ptr: int, count: int) -> tuple[int, ...]:
        return struct.unpack(f"<{count}I", self.read(ptr, 4 * count))

    # -- host imports

    def _host_output(self) -> None:
        """lw_host_output: the VM asks the host to consume its output ring now."""
        self.watcher.output.drain()

    @staticmethod
    def _host_now(clock: int) -> float:
        return time.time() if clock == abi.Clock.WALL_SECONDS else time.process_time()

    # -- eval

    def eval(
        self,
        code: str | bytes,
        chunk_name: str = "=stdin",
        on_output: OutputCallback | None = None,
        time_limit_s: float | None = None,
    ) -> EvalResult:
        """Runs `code` as one cell; output goes to `on_output` as it is produced.

        With `time_limit_s`, the eval is interrupted (INTERRUPTED, state kept)
        if it runs longer: for the kernel's own calls, which no user can stop.
        """
        name = chunk_name.encode("utf-8")
        body = code.encode("utf-8") if isinstance(code, str) else bytes(code)
        if len(name) > abi.CHUNK_NAME_SIZE_MAX_BYTES:
            raise ValueError(f"chunk name longer than {abi.CHUNK_NAME_SIZE_MAX_BYTES} bytes")
        self._keep_rollback()
        self.write(self._oom_where, bytes(4))  # no failed allocation recorded yet
        ptr = self._call_u32("lw_input_reserve", len(name) + len(body))
        if ptr == 0:
            return EvalResult(
                Status.OUT_OF_MEMORY,
                error=f"not enough memory: the cell's {len(body)} bytes do not fit in the VM's heap",
            )
        self.write(ptr, name + body)
        self.watcher.output.begin(on_output)
        generation = self.watcher.begin()
        timer = None
        if time_limit_s is not None:
            timer = threading.Timer(time_limit_s, self.watcher.interrupt, kwargs={"generation": generation})
            timer.daemon = True
            timer.start()
        try:
            status = Status(self._call("lw_eval", len(name), len(body)))
        except BaseException as e:
            forced = self.watcher.end()
            return self._after_trap(e, forced)
        finally:
            if timer is not None:
                timer.cancel()
        # Protected just as the eval finished: the state is whole, go on.
        self.watcher.end()
        self.watcher.output.finish()
        result = self._reply(status)
        if result.status == Status.OUT_OF_MEMORY:
            where = self.oom_where()
            if where:
                result.error = f"{result.error} (at {where})"
        return result

    def oom_where(self) -> str | None:
        """`source:line` of the Lua code running when the last allocation of
        this eval failed (src/oom.zig), if the allocator saw one."""
        size = abi.OOM_WHERE_SOURCE_SIZE_BYTES
        line, source = struct.unpack(f"<I{size}s", self.read(self._oom_where, 4 + size))
        if line == 0:
            return None
        name = source.split(b"\0", 1)[0].decode("utf-8", "replace")
        return f"{name}:{line}"

    def interrupt(self) -> bool:
        """Stops the running eval (INTERRUPTED, state kept); callable from any thread.

        Returns False, doing nothing, when no eval is running. An eval that
        has not stopped `watcher.escalate_after` seconds later (a long C call)
        is stopped by force: TRAPPED, with the Lua state of the cell's start.
        """
        return self.watcher.interrupt()

    def _keep_rollback(self) -> None:
        """Copies linear memory as the cell starts: what a trap rolls back to."""
        self._rollback_valid = False
        if self._rollback is None:
            return
        with self.watcher.lock:
            if self.watcher.poisoned:
                raise Escalated("the VM's memory is locked: the eval is being stopped by force")
            ctypes.memmove((ctypes.c_char * self.memory_bytes).from_buffer(self._rollback), self._base, self.memory_bytes)
        self._rollback_valid = True

    def _roll_back(self) -> str:
        """A fresh instance holding the memory of the cell's start, else a fresh
        Lua state; says which, for the cell's error."""
        image, self._rollback = self._rollback, None  # the init scripts' evals must not overwrite it
        try:
            if image is not None and self._rollback_valid:
                try:
                    self.load_image(bytes(image))
                    return ROLLED_BACK
                except Exception:  # noqa: BLE001 -- a fresh state is the fallback
                    log.exception("rolling the Lua state back failed; resetting it")
                    self.reset()
                    return "rolling back failed, so the Lua state was reset; globals and loaded code are gone"
            self.reset()
            if image is None:
                return (
                    f"the Lua state was reset (memory_limit {self.memory_bytes} bytes is above the "
                    f"rollback_memory_max the state is copied for); globals and loaded code are gone"
                )
            return "the Lua state was reset; globals and loaded code are gone"
        finally:
            self._rollback = image
            self._rollback_valid = False

    def _after_trap(self, error: BaseException, forced: bool) -> EvalResult:
        """The instance trapped mid-eval: never reuse it (its heap may be half-updated).
        Roll back to the memory of the cell's start, in a fresh instance."""
        host_error = not (forced or isinstance(error, (Escalated, wasmtime.Trap, wasmtime.WasmtimeError)))
        if host_error and not isinstance(error, Exception):
            self._roll_back()
            raise error  # KeyboardInterrupt, SystemExit: the caller's
        what = self._roll_back()
        if forced or isinstance(error, Escalated):
            delay = self.watcher.escalate_after or 0.0
            message = (
                f"the cell was stopped by force: it did not stop within {delay:g} s of the interrupt "
                f"(a long call into C such as a pattern match, or a loop that swallows errors); {what}"
            )
        elif not host_error:
            message = f"the VM trapped ({_trap_reason(error)}); {what}"
        else:
            # A host callback (on_output, a host function's wrapper) raised.
            raise EvalAborted(f"{type(error).__name__}: {error}; {what}") from error
        log.log(logging.INFO if forced else logging.WARNING, "%s", message)
        return EvalResult(Status.TRAPPED, error=message)

    def _reply(self, status: Status) -> EvalResult:
        """The eval's reply (docs/ABI.md, "Reply"): checked as hostile bytes."""
        data = self.read(self._call("lw_reply_ptr"), self._call("lw_reply_len"))
        reader = Reader(data)
        replied = reader.u32()
        if replied != status:
            raise FormatError(f"the reply says status {replied}, the eval returned {int(status)}")
        if status != Status.OK:
            message = reader.bytes().decode("utf-8", "replace")
            traceback = reader.bytes().decode("utf-8", "replace")
            return EvalResult(status, error=message, traceback=traceback or None)
        result = EvalResult(status)
        for _ in range(reader.u32()):
            result.values.append(reader.value())
            result.display.append(reader.bytes().decode("utf-8", "replace"))
        if reader.offset != len(data):
            raise FormatError(f"the reply has {len(data) - reader.offset} trailing bytes")
        return result

    # -- memory and GC

    def _call_u32(self, name: str, *args: int) -> int:
        """An export's i32 result read as the u32 it is (wasmtime gives it signed)."""
        return self._call(name, *args) & 0xFFFF_FFFF

    def memory_stats(self) -> MemoryStats:
        return MemoryStats(
            used_bytes=self._call_u32("lw_memory_used"),
            peak_bytes=self._call_u32("lw_memory_peak"),
            limit_bytes=self._call_u32("lw_memory_limit"),
            heap_capacity_bytes=self._call_u32("lw_memory_heap_capacity"),
            lua_bytes=self._call_u32("lw_lua_count"),
        )

    def gc(self, full: bool = True) -> int:
        """Runs a full collection (or one step); returns the bytes freed."""
        before = self._call_u32("lw_lua_count")
        self._call("lw_gc", 0 if full else 1)
        return before - self._call_u32("lw_lua_count")
