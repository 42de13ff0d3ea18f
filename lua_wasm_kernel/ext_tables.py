"""External tables: the host store behind Lua's `ext.table(name)` proxies.

Each table is a dict from a key's bytes to a value's bytes, both in the
type-tagged format (docs/FORMAT.md) exactly as the engine sent them, so the
hot path (`t[k]`, `t[k] = v`) decodes nothing here. The engine normalizes
keys the way Lua does (2.0 is the key 2), so equal Lua keys are equal bytes.

The wasm module reaches the store through four imports (docs/ABI.md,
"External tables"): lw_ext_get, lw_ext_set, lw_ext_len and lw_ext_next.
None keeps anything for a later import: an answer that does not fit the
engine's room is not written, and the engine asks again with room for it,
so a finalizer that crosses in between finds nothing of another call's.
wasmtime-py's ordinary host functions cost about 18 µs per call
(its trampoline wraps every argument in a `Val`); these are defined as
"unchecked" functions that read the raw argument slots, about 1.4 µs, and
reach linear memory through a memoryview rather than ctypes calls. Rare
operations (open, list, drop) are ordinary host calls.

The store lives as long as its LuaVM (a VM reset keeps it). Persistence to
files is persistence.py's job: it loads tables in through `loader` and asks
for the changed ones after each cell (`take_changes`).
"""
from __future__ import annotations

import ctypes
import logging
import math
import struct
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

import wasmtime

from . import abi, serializer
from .abi import Tag
from .hostcall import HostCallError
from .store_files import check_name

if TYPE_CHECKING:
    from .vm import LuaVM

log = logging.getLogger(__name__)

TableName = str | bytes
# What a loader yields: each table's name and its items (key bytes -> value bytes).
Loader = Callable[[], Iterable[tuple[TableName, dict[bytes, bytes]]]]

NAME_SIZE_MAX_BYTES = abi.EXT_TABLE_NAME_SIZE_MAX_BYTES  # owned by src/limits.zig
# Results below zero (src/ffi.zig): no table with that id, the host failed,
# the key given to next is not in the table.
NO_TABLE = -1
FAILED = -2
INVALID_KEY = -3

_INT_KEY = struct.Struct("<bq")  # an integer key's bytes: tag, i64
_INTEGER = int(Tag.INTEGER)
_U32_MASK = 0xFFFF_FFFF
# The tags a key may have (docs/FORMAT.md, "External tables").
KEY_TAGS = frozenset((Tag.BOOLEAN, Tag.INTEGER, Tag.FLOAT, Tag.STRING))


class ExtTable:
    """One table: its items in insertion order, and what iteration needs."""

    __slots__ = ("name", "id", "items", "live", "dirty", "inserts", "order", "order_at", "positions", "border")

    def __init__(self, name: TableName, table_id: int, items: dict[bytes, bytes] | None = None) -> None:
        self.name = name
        self.id = table_id
        self.items: dict[bytes, bytes] = items if items is not None else {}
        self.live = True  # False once dropped; a store through an old proxy revives it
        self.dirty = False  # changed since the last take_changes()
        # Keys added so far; the cached key order is stale when it moved on.
        # Deletions leave the order alone, so next() can resume after a
        # deleted key, as Lua allows (clearing fields while traversing).
        self.inserts = 0
        self.order: list[bytes] | None = None
        self.order_at = -1
        self.positions: dict[bytes, int] | None = None
        self.border = 0  # the last border found: the next # usually starts there

    def key_order(self) -> list[bytes]:
        if self.order is None or self.order_at != self.inserts:
            self.order = list(self.items)
            self.order_at = self.inserts
            self.positions = None
        return self.order

    def position(self, key: bytes) -> int | None:
        self.key_order()
        if self.positions is None:
            self.positions = {k: i for i, k in enumerate(self.order or ())}
        return self.positions.get(key)

    def length(self) -> int:
        """A border, as Lua's # gives: n with t[n] ~= nil (or n == 0) and t[n+1] == nil."""
        items, pack = self.items, _INT_KEY.pack
        n = self.border
        for guess in (n, n + 1):  # unchanged, or one appended since
            if (guess == 0 or pack(_INTEGER, guess) in items) and pack(_INTEGER, guess + 1) not in items:
                self.border = guess
                return guess
        if pack(_INTEGER, 1) not in items:
            self.border = 0
            return 0
        # luaH_getn's hash_search: double j until t[j] is nil, then bisect.
        i, j = 1, 2
        while pack(_INTEGER, j) in items:
            i = j
            if j > (2**63 - 1) // 2:  # overflow: a linear search, as Lua does
                k = 1
                while pack(_INTEGER, k + 1) in items:
                    k += 1
                self.border = k
                return k
            j *= 2
        while j - i > 1:
            m = (i + j) // 2
            if pack(_INTEGER, m) in items:
                i = m
            else:
                j = m
        self.border = i
        return i


class ExtStore:
    """The external tables of one LuaVM, by name and by id."""

    def __init__(self, loader: Loader | None = None) -> None:
        self.tables: dict[TableName, ExtTable] = {}  # live tables by name
        self._by_id: dict[int, ExtTable] = {}
        self._next_id = 1
        self._dropped: set[TableName] = set()  # dropped since the last take_changes()
        self.loader = loader
        self._loaded = loader is None
        self.fast_imports = False  # set when the unchecked imports are in use

    def attach_loader(self, loader: Loader) -> None:
        """Tables come from `loader` (persistence.py), read on the first use of `ext`."""
        self.loader = loader
        self._loaded = False

    # -- the Lua-facing operations (host calls)

    def register(self, vm: LuaVM) -> None:
        vm.register_host_function("lua_wasm.ext.open", self.open)
        vm.register_host_function("lua_wasm.ext.tables", self.names)
        vm.register_host_function("lua_wasm.ext.drop", self.drop)

    def open(self, name: TableName) -> int:
        """The id of the table `name`, made (empty) if it does not exist."""
        name = _check_name(name)
        self._ensure_loaded()
        table = self.tables.get(name)
        if table is None:
            table = self._by_name_any(name)
            if table is None:
                table = self._new_table(name)
            self._revive(table)
        return table.id

    def names(self) -> list[TableName]:
        self._ensure_loaded()
        return sorted(self.tables, key=_name_bytes)

    def drop(self, name: TableName) -> bool:
        name = _check_name(name)
        self._ensure_loaded()
        table = self.tables.pop(name, None)
        if table is None:
            return False
        table.items = {}
        table.live = False
        table.inserts += 1
        table.dirty = False
        self._dropped.add(name)
        return True

    # -- the Python side: persistence, snapshots, tests

    def load(self, name: TableName, items: dict[bytes, bytes]) -> None:
        """Puts a table loaded from a file in place (not marked changed)."""
        table = self._by_name_any(name) or self._new_table(name)
        table.items = items
        table.inserts += 1
        table.live = True
        table.border = 0
        self.tables[name] = table

    def take_changes(self) -> tuple[list[ExtTable], list[TableName]]:
        """The tables changed and the names dropped since the last call."""
        changed = [t for t in self.tables.values() if t.dirty]
        for t in changed:
            t.dirty = False
        dropped = [n for n in self._dropped if n not in self.tables]
        self._dropped.clear()
        return changed, dropped

    def ids(self) -> dict[int, TableName]:
        """Every id handed out (proxies in a snapshot hold them)."""
        return {i: t.name for i, t in self._by_id.items()}

    def rebind(self, ids: dict[int, TableName]) -> None:
        """Gives the names these ids, as a restored snapshot's proxies expect.

        The VM whose proxies held the old ids is gone, so they are replaced."""
        self._ensure_loaded()
        by_name = {t.name: t for t in self._by_id.values()}
        self._by_id.clear()  # in place: the imports hold this dict
        for table_id, name in ids.items():
            table = by_name.pop(name, None) or ExtTable(name, table_id)
            if name not in self.tables:
                table.items, table.live = {}, False
            table.id = table_id
            self._by_id[table_id] = table
        self._next_id = max([0, *self._by_id]) + 1
        for table in by_name.values():  # tables the snapshot never opened: fresh ids
            table.id = self._next_id
            self._by_id[table.id] = table
            self._next_id += 1

    def set(self, name: TableName, key: Any, value: Any) -> None:
        """t[key] = value from Python (None deletes); values as serializer.encode takes them."""
        table = self._by_id[self.open(name)]
        k = encode_key(key)
        if value is None:
            table.items.pop(k, None)
        else:
            before = len(table.items)
            table.items[k] = serializer.encode(value)
            table.inserts += len(table.items) - before
        table.dirty = True

    def get(self, name: TableName, key: Any) -> Any:
        """t[key] from Python, decoded (LuaTable for tables); None when absent."""
        table = self.tables.get(name)
        raw = table.items.get(encode_key(key)) if table is not None else None
        return None if raw is None else serializer.decode(raw)

    def items(self, name: TableName) -> Iterator[tuple[Any, Any]]:
        """The decoded pairs of a table, in iteration order."""
        table = self.tables.get(name)
        for k, v in list(table.items.items()) if table is not None else ():
            yield serializer.decode(k), serializer.decode(v)

    # -- internals

    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        self._loaded = True  # first: a failing loader is not retried on every call
        assert self.loader is not None
        for name, items in self.loader():
            self.load(name, items)

    def _new_table(self, name: TableName) -> ExtTable:
        table = ExtTable(name, self._next_id)
        self._by_id[table.id] = table
        self._next_id += 1
        return table

    def _by_name_any(self, name: TableName) -> ExtTable | None:
        table = self.tables.get(name)
        if table is not None:
            return table
        for t in self._by_id.values():
            if t.name == name:
                return t
        return None

    def _revive(self, table: ExtTable) -> None:
        table.live = True
        table.dirty = True
        self.tables[table.name] = table
        self._dropped.discard(table.name)

    # -- the imports (docs/ABI.md, "External tables")

    def define_imports(self, linker: wasmtime.Linker, vm: LuaVM) -> None:
        """Defines the four lw_ext_* imports for a new instance of `vm`.

        The functions (and the C callbacks wasmtime keeps pointers to) are
        made once per VM and store, and kept on the VM: each reset reuses them.
        """
        cached = getattr(vm, "_ext_imports", None)
        if cached is None or cached[0] is not self:
            memory: list[memoryview] = [memoryview(b"")]
            functions = _import_functions(self, vm, memory)
            callbacks = {}
            if _unchecked is not None:
                try:
                    callbacks = {name: _unchecked.callback(name, len(params), results == [_I64], functions[name])
                                 for name, (params, results) in _SIGNATURES.items()}
                except Exception as e:  # noqa: BLE001 -- a changed private API: use the slow path
                    log.warning("fast external-table imports unavailable (%s); using the slow path", e)
            cached = vm._ext_imports = (self, functions, callbacks, memory)  # type: ignore[attr-defined]
        _, functions, callbacks, memory = cached
        # The new instance's memory (created before the imports are defined).
        base = ctypes.addressof(vm.memory.data_ptr(vm.store).contents)
        memory[0] = memoryview((ctypes.c_char * vm.memory_bytes).from_address(base)).cast("B")
        for name, (params, results) in _SIGNATURES.items():
            functype = wasmtime.FuncType(params, results)
            if name in callbacks:
                _unchecked.define(linker, name, functype, callbacks[name])
            else:
                linker.define_func("env", name, functype, _checked(name, functions[name]))
        self.fast_imports = bool(callbacks)


_I32, _I64 = wasmtime.ValType.i32(), wasmtime.ValType.i64()
# The imports' wasm signatures (src/ffi.zig).
_SIGNATURES = {
    "lw_ext_get": ([_I32] * 5, [_I32]),
    "lw_ext_set": ([_I32] * 5, [_I32]),
    "lw_ext_len": ([_I32], [_I64]),
    "lw_ext_next": ([_I32] * 5, [_I32]),
}


def _checked(name: str, fn: Callable[..., int]) -> Callable[..., int]:
    """The slow path's wrapper: wasmtime-py passes i32 arguments signed, so they
    are masked to u32 as the unchecked path does, and no exception reaches wasmtime."""
    def call(*args: int) -> int:
        try:
            return fn(*(a & _U32_MASK for a in args))
        except BaseException:  # noqa: BLE001 -- it would trap the VM
            log.exception("external table import %s failed", name)
            return FAILED

    return call


def _import_functions(store: ExtStore, vm: LuaVM, memory: list[memoryview]) -> dict[str, Callable[..., int]]:
    """The import functions for one VM, by import name; each returns its i32/i64 result.

    Closures over local names: the hot path pays for no attribute lookups it
    can avoid. Memory is reached through `memory[0]`, a byte view of the
    current instance's linear memory (slicing a memoryview costs a fifth of
    a ctypes call). Every access holds the watcher's lock and checks that the
    memory is not protected (interrupt.py: escalation), and every range is
    checked against the memory's size. Pointers and lengths arrive as u32
    (both callers mask them). An answer longer than `dst_cap` is not
    written, only its length returned: nothing is kept for a later call.
    """
    watcher = vm.watcher
    lock = watcher.lock
    by_id = store._by_id  # rebind() updates it in place

    def get(table_id: int, key_ptr: int, key_len: int, dst_ptr: int, dst_cap: int) -> int:
        mv = memory[0]
        size = len(mv)
        with lock:
            if watcher.poisoned or key_ptr + key_len > size or dst_ptr + dst_cap > size:
                return FAILED
            table = by_id.get(table_id)
            if table is None:
                return NO_TABLE
            value = table.items.get(mv[key_ptr : key_ptr + key_len].tobytes())
            if value is None:
                return 0
            n = len(value)
            if n <= dst_cap:
                mv[dst_ptr : dst_ptr + n] = value
            return n

    def set(table_id: int, key_ptr: int, key_len: int, value_ptr: int, value_len: int) -> int:
        mv = memory[0]
        size = len(mv)
        with lock:
            if watcher.poisoned or key_ptr + key_len > size or value_ptr + value_len > size:
                return FAILED
            table = by_id.get(table_id)
            if table is None:
                return NO_TABLE
            key = mv[key_ptr : key_ptr + key_len].tobytes()
            items = table.items
            if value_len:
                before = len(items)
                items[key] = mv[value_ptr : value_ptr + value_len].tobytes()
                if len(items) != before:
                    table.inserts += 1
            else:
                items.pop(key, None)
            table.dirty = True
            if not table.live:
                store._revive(table)
            return 0

    def len_(table_id: int) -> int:
        table = by_id.get(table_id)
        return NO_TABLE if table is None else table.length()

    def next_(table_id: int, key_ptr: int, key_len: int, dst_ptr: int, dst_cap: int) -> int:
        mv = memory[0]
        size = len(mv)
        with lock:
            if watcher.poisoned or key_ptr + key_len > size or dst_ptr + dst_cap > size:
                return FAILED
            table = by_id.get(table_id)
            if table is None:
                return NO_TABLE
            if key_len == 0:
                at = 0
            else:
                position = table.position(mv[key_ptr : key_ptr + key_len].tobytes())
                if position is None:
                    return INVALID_KEY
                at = position + 1
            items = table.items
            order = table.key_order()
            while at < len(order):
                key = order[at]
                value = items.get(key)
                if value is not None:
                    pair = key + value
                    n = len(pair)
                    if n <= dst_cap:
                        mv[dst_ptr : dst_ptr + n] = pair
                    return n
                at += 1
            return 0

    return {"lw_ext_get": get, "lw_ext_set": set, "lw_ext_len": len_, "lw_ext_next": next_}


def _check_name(name: Any) -> TableName:
    return check_name(name, "table", NAME_SIZE_MAX_BYTES)


def _name_bytes(name: TableName) -> bytes:
    return name.encode("utf-8") if isinstance(name, str) else name


def encode_key(key: Any) -> bytes:
    """A key's bytes as the engine makes them: integral floats become integers."""
    if key is None:
        raise ValueError("table index is nil")
    if isinstance(key, float):
        if math.isnan(key):
            raise ValueError("table index is NaN")
        if key.is_integer() and -(2**63) <= key < 2**63:
            key = int(key)
    if not isinstance(key, (bool, int, float, str, bytes)):
        raise TypeError(f"ext.table keys are strings, numbers or booleans, not {type(key).__name__}")
    return serializer.encode(key)


# -- the unchecked imports

class _Unchecked:
    """wasmtime_linker_define_func_unchecked through wasmtime-py's C bindings
    (`wasmtime._ffi`, private: the `wasmtime==50.*` pin keeps it stable, and
    tests/test_ext_tables.py checks the fast path is in use)."""

    def __init__(self) -> None:
        from wasmtime import _ffi as ffi

        self._define = ffi.wasmtime_linker_define_func_unchecked
        self._callback_type = ffi.wasmtime_func_unchecked_callback_t
        self._no_finalizer = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(0)

    def callback(self, name: str, nparams: int, result_is_i64: bool, fn: Callable[..., int]) -> Any:
        """A C callback running `fn` on the raw argument slots."""
        # Arguments arrive in i32 slots (signed: pointers and lengths are masked);
        # the result goes into slot 0. An exception must not cross into C.
        # One function per arity, indexing the slots directly: the fast way.
        m = _U32_MASK
        if nparams == 5:
            def raw(env: Any, caller: Any, s: Any, nslots: int) -> int:
                try:
                    s[0].i32 = fn(s[0].i32 & m, s[1].i32 & m, s[2].i32 & m, s[3].i32 & m, s[4].i32 & m)
                except BaseException:  # noqa: BLE001
                    log.exception("external table import %s failed", name)
                    s[0].i32 = FAILED
                return 0
        else:
            assert nparams == 1 and result_is_i64

            def raw(env: Any, caller: Any, s: Any, nslots: int) -> int:
                try:
                    s[0].i64 = fn(s[0].i32 & m)
                except BaseException:  # noqa: BLE001
                    log.exception("external table import %s failed", name)
                    s[0].i64 = FAILED
                return 0

        return self._callback_type(raw)

    def define(self, linker: wasmtime.Linker, name: str, functype: wasmtime.FuncType, callback: Any) -> None:
        module, field = b"env", name.encode()
        error = self._define(linker.ptr(), module, len(module), field, len(field), functype.ptr(), callback, None,
                             self._no_finalizer)
        if error:
            raise wasmtime.WasmtimeError._from_ptr(error)


def _load_unchecked() -> _Unchecked | None:
    try:
        return _Unchecked()
    except (ImportError, AttributeError) as e:
        log.warning("fast external-table imports unavailable (%s); using the slow path", e)
        return None


_unchecked = _load_unchecked()
