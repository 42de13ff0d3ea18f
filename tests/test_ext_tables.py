"""External tables from Lua (`ext`), through a bare LuaVM and its host store."""
from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lua_wasm_kernel.abi import Status
from lua_wasm_kernel.ext_tables import ExtStore, encode_key
from lua_wasm_kernel.serializer import LuaTable, decode, encode
from lua_wasm_kernel.vm import LuaVM

VECTORS = json.loads((Path(__file__).parent / "vectors" / "format.json").read_text())


def ok(vm: LuaVM, code: str) -> list:
    r = vm.eval(code)
    assert r.status == Status.OK, r.error
    return r.values


def fails(vm: LuaVM, code: str) -> str:
    r = vm.eval(code, "=cell")
    assert r.status == Status.RUNTIME_ERROR, (r.status, r.values)
    return r.error


def plain(value):
    if isinstance(value, LuaTable):
        return {k: plain(v) for k, v in value.pairs}
    return value


def test_the_fast_imports_are_in_use(vm: LuaVM) -> None:
    # The generic host call path costs about 18 µs a crossing; the goal
    # (200k operations/s) needs the unchecked imports (ext_tables.py).
    assert vm.ext.fast_imports


def test_the_slow_path_works_too(runtime, monkeypatch) -> None:
    """Without wasmtime-py's private C bindings the imports are ordinary host functions."""
    from lua_wasm_kernel import ext_tables

    monkeypatch.setattr(ext_tables, "_unchecked", None)
    vm = LuaVM(runtime=runtime)
    assert not vm.ext.fast_imports
    ok(vm, "t = ext.table('slow') t[1] = {a = 1} t.big = string.rep('x', 1000)")
    assert ok(vm, "t[1].a, #t, #t.big, select('#', next({})), (pairs(t)(t))") == [1, 1, 1000, 1, 1]


def test_a_reset_reuses_the_import_callbacks(vm: LuaVM) -> None:
    callbacks = vm._ext_imports[2]
    assert set(callbacks) == {"lw_ext_get", "lw_ext_set", "lw_ext_len", "lw_ext_next"}
    vm.reset()
    assert vm._ext_imports[2] is callbacks
    assert ok(vm, "ext.table('r').x = 1 return ext.table('r').x") == [1]


def test_mixed_types_stored_and_retrieved(vm: LuaVM) -> None:
    ok(vm, r"""
        t = ext.table("mixed")
        t.name = "lua-wasm"
        t[1] = 42
        t[2] = -0.5
        t[3] = true
        t[4] = false
        t[5] = math.mininteger
        t[6] = 1/0
        t.bytes = "a\0b\255"
        t[2.5] = "float key"
        t[true] = "boolean key"
        t.nested = {1, 2, {deep = {"x"}}, k = "v"}
        t.empty = {}
        t.nan = 0/0
        t.gone = 1
        t.gone = nil
    """)
    got = ok(vm, r"""
        local t = ext.table("mixed")
        return t.name, t[1], t[2], t[3], t[4], t[5], t[6], t.bytes, t[2.5], t[true],
               t.nested[3].deep[1], t.nested.k, #t.nested, next(t.empty), t.nan ~= t.nan, t.gone,
               math.type(t[1]), math.type(t[2])
    """)
    assert got == ["lua-wasm", 42, -0.5, True, False, -(2**63), math.inf, b"a\x00b\xff", "float key",
                   "boolean key", "x", "v", 3, None, True, None, "integer", "float"]
    # The host holds the same values (and no key for the deleted one).
    assert vm.ext.get("mixed", "name") == "lua-wasm"
    assert plain(vm.ext.get("mixed", "nested")) == {1: 1, 2: 2, 3: {"deep": {1: "x"}}, "k": "v"}
    assert vm.ext.get("mixed", "gone") is None
    assert len(vm.ext.tables["mixed"].items) == 13


def test_keys_are_normalized_as_lua_does(vm: LuaVM) -> None:
    ok(vm, """
        t = ext.table("keys")
        t[2.0] = "two"; t[-0.0] = "zero"; t[2^53] = "big"; t["2"] = "string two"; t[1e300] = "huge"
    """)
    assert ok(vm, "t[2], t[0], t[math.tointeger(2^53)], t['2'], t[1e300], t[2.5]") == [
        "two", "zero", "big", "string two", "huge", None]
    keys = set(vm.ext.tables["keys"].items)
    assert encode(2) in keys and encode(0) in keys and encode(2**53) in keys and encode("2") in keys
    assert encode(1e300) in keys and encode(2.0) not in keys
    # Values keep their subtype: only keys are normalized.
    assert ok(vm, "t.v = 2.0 t.z = -0.0 return math.type(t.v), 1/t.z") == ["float", -math.inf]


def test_a_thousand_items_with_iteration(vm: LuaVM) -> None:
    ok(vm, """
        t = ext.table("k1")
        for i = 1, 1000 do t[i] = i * i end
        for i = 1, 100 do t["s" .. i] = {i, tostring(i)} end
    """)
    assert ok(vm, "#t") == [1000]
    assert ok(vm, "local n, s = 0, 0 for i, v in ipairs(t) do n = n + 1; s = s + v end return n, s") == [
        1000, sum(i * i for i in range(1, 1001))]
    # pairs: insertion order, all 1,100 pairs, values by value.
    keys = ok(vm, "local ks = {} for k, v in pairs(t) do ks[#ks + 1] = k end return ks")[0]
    assert [v for _, v in keys.pairs] == list(range(1, 1001)) + [f"s{i}" for i in range(1, 101)]
    assert ok(vm, "t.s7[1], t.s7[2]") == [7, "7"]


@pytest.mark.slow
def test_a_hundred_thousand_items_live_outside_the_vm(vm: LuaVM) -> None:
    ok(vm, """
        t = ext.table("k100")
        for i = 1, 100000 do t[i] = "value " .. i end
        for i = 1, 1000 do t["n" .. i] = {i = i, sq = {i * i}} end
    """)
    # 101,000 items would not fit in the 2 MB heap (about 16k strings do).
    assert len(vm.ext.tables["k100"].items) == 101_000
    assert ok(vm, "#t, t[99999], t.n500.sq[1]") == [100000, "value 99999", 250000]
    assert ok(vm, "local n = 0 for k, v in pairs(t) do n = n + 1 end return n") == [101000]
    assert ok(vm, "local n = 0 for i, v in ipairs(t) do n = n + 1 end return n") == [100000]
    ok(vm, "for i = 1, 100000, 2 do t[i] = nil end")
    assert ok(vm, "t[1], t[2], t[100000]") == [None, "value 2", "value 100000"]
    assert vm.memory_stats().used_bytes < 512 * 1024


def test_values_are_copies(vm: LuaVM) -> None:
    assert ok(vm, """
        local t = ext.table("copies")
        local v = {list = {1, 2}}
        t.v = v
        v.list[1] = 99                 -- changes the local table only
        local got = t.v
        got.list[2] = 77               -- changes the copy only
        return t.v.list[1], t.v.list[2], rawequal(t.v, t.v)
    """) == [1, 2, False]


def test_deep_nesting_limit(vm: LuaVM) -> None:
    ok(vm, "deep = {} local d = deep for i = 1, 63 do d.x = {} d = d.x end")
    ok(vm, "ext.table('deep').v = deep")
    err = fails(vm, "local d = deep while d.x do d = d.x end d.x = {} ext.table('deep').v = deep")
    assert "nested more than 64 levels deep" in err


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("t.f = print", 'cell:1: ext.table("errs"): cannot store a function at key f'),
        ("t[1] = coroutine.create(print)", "cannot store a thread at key [1]"),
        ("t.u = ext.table('other')", "cannot store a userdata at key u"),
        ("t.cfg = {handlers = {print}}", "cannot store a function at key cfg.handlers[1]"),
        ("t['my key'] = {[2.5] = {f = print}}", 'cannot store a function at key ["my key"][2.5].f'),
        ("local c = {} c.me = c t.c = {c}", "cannot store a table that contains itself (a cycle; tables are stored by value) at key c[1]"),
        ("t.m = setmetatable({}, {})", "cannot store a table with a metatable (only plain tables are stored) at key m"),
        ("t.k = {[{}] = 1}", "cannot store a table with a table as a key"),
        ("t[nil] = 1", "cell:1: table index is nil"),
        ("t[0/0] = 1", "cell:1: table index is NaN"),
        ("t[{}] = 1", "ext.table keys are strings, numbers or booleans, not table"),
        ("t[print] = 1", "not function"),
        ("ext.table(42)", "bad argument #1 to 'table' (string expected, got number)"),
        ("ext.table('')", "a table name is 1 to 256 bytes long"),
        ("ext.table(string.rep('n', 257))", "a table name is 1 to 256 bytes long"),
        ("ext.drop()", "bad argument #1 to 'drop'"),
        ("local f = next(t) ", "bad argument #1 to 'next' (table expected, got ext.table)"),
        ("for k in pairs(t) do end; local nxt = pairs(t); nxt(t, 'no such key')", "invalid key to 'next'"),
    ],
)
def test_error_cases(vm: LuaVM, code: str, message: str) -> None:
    ok(vm, "t = ext.table('errs'); t.keep = 'kept'; t.x = 1")
    assert message in fails(vm, code)
    # Nothing was stored by the failed assignment, and the table still works.
    assert ok(vm, "t.keep, t.f, t.u, t.cfg, t.m, t.k, t.c") == ["kept"] + [None] * 6
    assert len(vm.ext.tables["errs"].items) == 2


def test_reads_follow_lua_for_keys_no_value_can_have(vm: LuaVM) -> None:
    assert ok(vm, "local t = ext.table('r') return t[nil], t[0/0], t[{}], t[print]") == [None] * 4


def test_pairs_order_is_insertion_order(vm: LuaVM) -> None:
    ok(vm, "t = ext.table('order') t.c = 1 t.a = 2 t.b = 3 t[10] = 4 t[1] = 5")

    def keys() -> list:
        return [k for _, k in ok(vm, "local ks = {} for k in pairs(t) do ks[#ks + 1] = k end return ks")[0].pairs]

    assert keys() == ["c", "a", "b", 10, 1]
    ok(vm, "t.a = 'again'")  # a new value keeps the key's place
    assert keys() == ["c", "a", "b", 10, 1]
    ok(vm, "t.a = nil t.a = 'back'")  # deleted and set again: moves to the end
    assert keys() == ["c", "b", 10, 1, "a"]
    # Clearing fields while traversing works, as in Lua.
    assert ok(vm, "local n = 0 for k in pairs(t) do t[k] = nil n = n + 1 end return n, #ext.tables()") == [5, 1]
    assert keys() == []


def test_length_is_a_border(vm: LuaVM) -> None:
    ok(vm, "t = ext.table('len')")
    assert ok(vm, "#t") == [0]
    ok(vm, "t.x = 1 t[0] = 1 t[-1] = 1")
    assert ok(vm, "#t") == [0]
    ok(vm, "for i = 1, 10 do t[#t + 1] = i end")
    assert ok(vm, "#t") == [10]
    ok(vm, "t[5] = nil")
    (n,) = ok(vm, "#t")
    assert n in (4, 10)
    assert ok(vm, f"(t[{n}] ~= nil or {n} == 0) and t[{n} + 1] == nil") == [True]
    ok(vm, "t[5] = 5 t[11.0] = 11")
    assert ok(vm, "#t") == [11]


def test_same_proxy_listing_and_drop(vm: LuaVM) -> None:
    assert ok(vm, "ext.table('b') == ext.table('b'), ext.table('a') ~= ext.table('b')") == [True, True]
    assert ok(vm, "type(ext.table('a')), tostring(ext.table('a')), getmetatable(ext.table('a'))") == [
        "userdata", 'ext.table("a")', False]
    assert ok(vm, "ext.tables()")[0].pairs == [(1, "a"), (2, "b")]
    ok(vm, "a = ext.table('a') a.x = 1")
    assert ok(vm, "ext.drop('a'), ext.drop('a'), ext.drop('never')") == [True, False, False]
    assert ok(vm, "a.x, #ext.tables()") == [None, 1]
    ok(vm, "a.y = 2")  # a store through an old proxy brings the table back
    assert ok(vm, "a.x, a.y, ext.tables()[1]") == [None, 2, "a"]
    assert ok(vm, "require('ext') == ext, package.loaded.ext == ext") == [True, True]


def test_large_keys_and_values_cross(vm: LuaVM) -> None:
    ok(vm, """
        t = ext.table('large')
        big = string.rep('0123456789', 10000)
        t[big] = big
        t.list = {} for i = 1, 2000 do t.list[i] = i end    -- stored is a copy: this changes nothing
        local l = {} for i = 1, 2000 do l[i] = i end t.list = l
    """)
    assert ok(vm, "#t[big], t[big] == big, #t.list, t.list[2000]") == [100000, True, 2000, 2000]
    assert ok(vm, "local n = 0 for k, v in pairs(t) do n = n + #tostring(k) end return n") == [100000 + 4]


def test_tables_outlive_a_vm_reset(vm: LuaVM) -> None:
    ok(vm, "ext.table('kept').v = {1, 2, 3}")
    vm.reset()
    assert ok(vm, "#ext.table('kept').v") == [3]


def test_python_side_api(vm: LuaVM) -> None:
    vm.ext.set("py", 2.0, {"a": [1, 2]})
    vm.ext.set("py", "s", "text")
    assert ok(vm, "local t = ext.table('py') return t[2].a[2], t.s") == [2, "text"]
    assert [(k, plain(v)) for k, v in vm.ext.items("py")] == [(2, {"a": {1: 1, 2: 2}}), ("s", "text")]
    with pytest.raises(ValueError, match="NaN"):
        encode_key(math.nan)
    with pytest.raises(TypeError):
        encode_key([1])


# -- the shared format vectors and round trips

@pytest.mark.parametrize("vector", [v for v in VECTORS if v["hex"] != "00"], ids=lambda v: v["lua"])
def test_ext_encoder_agrees_with_the_vectors(vm: LuaVM, vector) -> None:
    """ext's encoder (src/ext.zig) writes the shared vectors' bytes; cycles are refused."""
    data = bytes.fromhex(vector["hex"])
    r = vm.eval(f"ext.table('vectors')[1] = {vector['lua']}", "=cell")
    if b"\x06" in data and "me = t" in vector["lua"]:
        assert r.status == Status.RUNTIME_ERROR and "a cycle" in r.error
        return
    assert r.status == Status.OK, r.error
    assert vm.ext.tables["vectors"].items[encode(1)] == data
    assert plain(ok(vm, "ext.table('vectors')[1]")[0]) == plain(decode(data))


lua_scalars = (
    st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
    | st.binary(max_size=30)
)
lua_keys = st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.text(max_size=20) | st.booleans() | st.floats(
    allow_nan=False).filter(lambda f: not f.is_integer())
lua_values = st.recursive(lua_scalars, lambda inner: st.dictionaries(lua_keys, inner, max_size=5), max_leaves=25)


def _normal(value):
    """What Lua gives back: bytes that are UTF-8 come back as str."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value
    if isinstance(value, dict):
        return {_normal(k): _normal(v) for k, v in value.items()}
    return value


@settings(max_examples=80, deadline=None)
@given(key=lua_keys, value=lua_values)
def test_round_trip_python_to_lua_and_back(runtime, key, value) -> None:
    """Python stores bytes, Lua reads them and stores a copy, Python decodes the copy."""
    vm = LuaVM(runtime=runtime)
    vm.ext.set("h", key, value)
    vm.ext.set("keys", 1, key)
    r = vm.eval("local t, k = ext.table('h'), ext.table('keys')[1] t.copy = t[k] return t[k] ~= nil")
    assert r.values == [True], r.error
    got = vm.ext.get("h", "copy")
    assert plain(got) == _normal(value)
    if not isinstance(value, dict):  # scalars: the very same bytes
        assert vm.ext.tables["h"].items[encode("copy")] == vm.ext.tables["h"].items[encode_key(key)]


def test_store_without_vm_keeps_items_as_bytes() -> None:
    store = ExtStore()
    store.set("t", 1, "one")
    store.set("t", 2, None)
    assert store.tables["t"].items == {struct.pack("<bq", 2, 1): encode("one")}
    assert store.names() == ["t"]


# -- interrupts: the imports touch memory only while holding the watcher's lock

def _eval_interrupted_after(vm: LuaVM, code: str, delay: float):
    import threading
    import time

    threading.Thread(target=lambda: (time.sleep(delay), vm.interrupt()), daemon=True).start()
    return vm.eval(code)


def test_an_interrupt_stops_an_ext_loop_and_keeps_both_states(vm: LuaVM) -> None:
    ok(vm, "t = ext.table('loop') n = 0")
    r = _eval_interrupted_after(vm, "while true do n = n + 1 t[n] = n end", 0.2)
    assert r.status == Status.INTERRUPTED
    (n,) = ok(vm, "n")
    assert n > 1000 and ok(vm, "#t")[0] in (n - 1, n)


def test_escalation_in_the_middle_of_ext_traffic_is_safe(vm: LuaVM) -> None:
    """table.move reads and writes through the proxies inside one C call, where
    no hook runs: the watcher protects the memory between two imports."""
    vm.watcher.escalate_after = 0.2
    ok(vm, "a = ext.table('a') b = ext.table('b') for i = 1, 1000 do a[i] = i end")
    r = _eval_interrupted_after(vm, "table.move(a, 1, 10000000, 1, b)", 0.1)
    assert r.status == Status.TRAPPED, (r.status, r.error)
    assert vm.watcher.escalations == 1
    # The Lua state of the cell's start (its proxies work on); the host's tables are whole.
    assert ok(vm, "a[1], a[1000]") == [1, 1000]
    assert ok(vm, "local a, b = ext.table('a'), ext.table('b') return #a, a[1000], b[1000]") == [1000, 1000, 1000]
