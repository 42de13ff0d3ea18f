"""The wasm runtime: one engine and compiled module, one VM instance per LuaVM.

`Runtime` loads lua.wasm (compiling it once, then from an on-disk cache) and
`LuaVM` owns a store, a fixed-size memory and an instance: eval, output,
memory stats, GC and reset. The ABI is docs/ABI.md; abi.py mirrors it.
"""
from __future__ import annotations

import codecs
import ctypes
import hashlib
import logging
import os
import struct
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import wasmtime

from . import abi
from .abi import Status, Stream
from .serializer import Reader

log = logging.getLogger(__name__)

OutputCallback = Callable[[Stream, str], None]

WASM_PATH = Path(__file__).with_name("lua.wasm")
REBUILD_HINT = "rebuild it with `python hatch_build.py` in a source checkout, or reinstall with `pip install .`"


class WasmModuleError(RuntimeError):
    """lua.wasm is missing, stale or unusable."""


@dataclass
class EvalResult:
    """What one eval produced."""

    status: Status
    values: list[Any] = field(default_factory=list)
    display: list[str] = field(default_factory=list)
    error: str | None = None
    traceback: str | None = None

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


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "lua-wasm"


class Runtime:
    """The engine and the compiled module, shared by every VM of a process."""

    def __init__(self, wasm_path: Path = WASM_PATH, cache_dir: Path | None = None) -> None:
        self.wasm_path = Path(wasm_path)
        self.config = self._config()
        self.engine = wasmtime.Engine(self.config)
        self.module = self._load_module(cache_dir if cache_dir is not None else default_cache_dir())
        self._check_interface()

    @staticmethod
    def _config() -> wasmtime.Config:
        config = wasmtime.Config()
        config.wasm_exceptions = True
        config.cranelift_opt_level = "speed"
        return config

    def _config_key(self) -> str:
        return "exceptions=1;opt=speed"

    def _load_module(self, cache_dir: Path) -> wasmtime.Module:
        try:
            wasm = self.wasm_path.read_bytes()
        except FileNotFoundError:
            raise WasmModuleError(f"{self.wasm_path} does not exist: {REBUILD_HINT}") from None
        key = hashlib.sha256(
            wasm + metadata.version("wasmtime").encode() + self._config_key().encode()
        ).hexdigest()[:32]
        cached = cache_dir / f"lua-{key}.cwasm"
        if cached.exists():
            try:
                return wasmtime.Module.deserialize_file(self.engine, str(cached))
            except wasmtime.WasmtimeError as e:
                log.warning("ignoring unusable module cache %s: %s", cached, e)
        try:
            module = wasmtime.Module(self.engine, wasm)
        except wasmtime.WasmtimeError as e:
            raise WasmModuleError(f"{self.wasm_path} is not a valid module ({e}): {REBUILD_HINT}") from None
        self._store_cache(cached, module)
        return module

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
        for imp in self.module.imports:
            if imp.name == "memory":
                return imp.type.limits.min
        raise WasmModuleError("the module does not import its memory")


class LuaVM:
    """One Lua state in one wasm instance, with a fixed memory of `memory_bytes`."""

    def __init__(
        self,
        memory_bytes: int = abi.MEMORY_SIZE_DEFAULT_BYTES,
        runtime: Runtime | None = None,
    ) -> None:
        self.runtime = runtime or Runtime()
        pages, rest = divmod(memory_bytes, abi.WASM_PAGE_SIZE_BYTES)
        if rest or pages < self.runtime.memory_pages_min():
            floor = self.runtime.memory_pages_min() * abi.WASM_PAGE_SIZE_BYTES
            raise ValueError(
                f"memory size must be a multiple of 64 KiB and at least {floor} bytes, got {memory_bytes}"
            )
        self.memory_bytes = memory_bytes
        self._on_output: OutputCallback | None = None
        self._decoders: dict[Stream, codecs.IncrementalDecoder] = {}
        self._instantiate()

    # -- lifecycle

    def _instantiate(self) -> None:
        rt = self.runtime
        self.store = wasmtime.Store(rt.engine)
        pages = self.memory_bytes // abi.WASM_PAGE_SIZE_BYTES
        # min == max: the memory can never grow, so its base address never moves.
        self.memory = wasmtime.Memory(self.store, wasmtime.MemoryType(wasmtime.Limits(pages, pages)))
        linker = wasmtime.Linker(rt.engine)
        linker.define(self.store, "env", "memory", self.memory)
        i32, f64 = wasmtime.ValType.i32(), wasmtime.ValType.f64()
        linker.define_func("env", "lw_host_output", wasmtime.FuncType([i32, i32, i32], []), self._host_output)
        linker.define_func("env", "lw_host_now", wasmtime.FuncType([i32], [f64]), self._host_now)
        self.instance = linker.instantiate(self.store, rt.module)
        exports = self.instance.exports(self.store)
        self._fn = {name: exports[name] for name in abi.EXPORTS}
        self._base = ctypes.addressof(self.memory.data_ptr(self.store).contents)
        if "_initialize" in exports:
            exports["_initialize"](self.store)
        version = self._call("lw_abi_version")
        if version != abi.ABI_VERSION:
            raise WasmModuleError(f"lua.wasm speaks ABI {version}, this host {abi.ABI_VERSION}: {REBUILD_HINT}")
        assert self._call("lw_io_buffer_size") == abi.IO_BUFFER_SIZE_BYTES
        status = self._call("lw_init")
        if status != Status.OK:
            raise MemoryError(f"cannot create a Lua state in {self.memory_bytes} bytes (status {status})")
        self.interrupt_layout = dict(
            zip(abi.INTERRUPT_LAYOUT_FIELDS, self._read_u32s(self._call("lw_interrupt_layout"), 10))
        )

    def reset(self) -> None:
        """Throws the instance away and starts a fresh Lua state."""
        self._instantiate()

    def _call(self, name: str, *args: int) -> Any:
        return self._fn[name](self.store, *args)

    # -- memory access (the base never moves: min == max pages)

    def read(self, ptr: int, length: int) -> bytes:
        assert 0 <= ptr and ptr + length <= self.memory_bytes, (ptr, length)
        return ctypes.string_at(self._base + ptr, length)

    def write(self, ptr: int, data: bytes) -> None:
        assert 0 < ptr and ptr + len(data) <= self.memory_bytes, (ptr, len(data))
        ctypes.memmove(self._base + ptr, data, len(data))

    def _read_u32s(self, ptr: int, count: int) -> tuple[int, ...]:
        return struct.unpack(f"<{count}I", self.read(ptr, 4 * count))

    # -- host imports

    def _host_output(self, stream: int, ptr: int, length: int) -> None:
        data = self.read(ptr, length)
        kind = Stream(stream)
        decoder = self._decoders.get(kind)
        if decoder is None:
            decoder = self._decoders[kind] = codecs.getincrementaldecoder("utf-8")("replace")
        text = decoder.decode(data)
        if text and self._on_output is not None:
            self._on_output(kind, text)

    @staticmethod
    def _host_now(clock: int) -> float:
        return time.time() if clock == abi.Clock.WALL_SECONDS else time.process_time()

    # -- eval

    def eval(self, code: str | bytes, chunk_name: str = "=stdin", on_output: OutputCallback | None = None) -> EvalResult:
        """Runs `code` as one cell; output goes to `on_output` as it is produced."""
        name = chunk_name.encode("utf-8")
        body = code.encode("utf-8") if isinstance(code, str) else bytes(code)
        if len(name) > abi.CHUNK_NAME_SIZE_MAX_BYTES:
            raise ValueError(f"chunk name longer than {abi.CHUNK_NAME_SIZE_MAX_BYTES} bytes")
        ptr = self._call("lw_input_reserve", len(name) + len(body))
        if ptr == 0:
            return EvalResult(
                Status.OUT_OF_MEMORY,
                error=f"not enough memory: a cell of {len(body)} bytes does not fit in the VM's heap",
            )
        self.write(ptr, name + body)
        self._on_output = on_output
        self._decoders = {}
        try:
            status = Status(self._call("lw_eval", len(name), len(body)))
        finally:
            self._flush_decoders()
            self._on_output = None
        return self._reply(status)

    def _flush_decoders(self) -> None:
        for kind, decoder in self._decoders.items():
            tail = decoder.decode(b"", final=True)
            if tail and self._on_output is not None:
                self._on_output(kind, tail)

    def _reply(self, status: Status) -> EvalResult:
        data = self.read(self._call("lw_reply_ptr"), self._call("lw_reply_len"))
        reader = Reader(data)
        assert Status(reader.u32()) == status, "reply and status disagree"
        if status != Status.OK:
            message = reader.bytes().decode("utf-8", "replace")
            traceback = reader.bytes().decode("utf-8", "replace")
            return EvalResult(status, error=message, traceback=traceback or None)
        result = EvalResult(status)
        for _ in range(reader.u32()):
            result.values.append(reader.value())
            result.display.append(reader.bytes().decode("utf-8", "replace"))
        assert reader.offset == len(data), "reply has trailing bytes"
        return result

    # -- memory and GC

    def memory_stats(self) -> MemoryStats:
        return MemoryStats(
            used_bytes=self._call("lw_memory_used"),
            peak_bytes=self._call("lw_memory_peak"),
            limit_bytes=self._call("lw_memory_limit"),
            heap_capacity_bytes=self._call("lw_memory_heap_capacity"),
            lua_bytes=self._call("lw_lua_count"),
        )

    def gc(self, full: bool = True) -> int:
        """Runs a full collection (or one step); returns the bytes freed."""
        before = self._call("lw_lua_count")
        self._call("lw_gc", 0 if full else 1)
        return before - self._call("lw_lua_count")
