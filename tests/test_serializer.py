"""The value format: shared vectors for the Zig and Python sides, and round-trip properties."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lua_wasm_kernel.abi import Status
from lua_wasm_kernel.serializer import Cycle, FormatError, LuaTable, Opaque, decode, encode

VECTORS = json.loads((Path(__file__).parent / "vectors" / "format.json").read_text())


def _plain(value):
    """LuaTable trees as dicts, for comparisons."""
    if isinstance(value, LuaTable):
        return {k: _plain(v) for k, v in value.pairs}
    return value


@pytest.mark.parametrize("vector", VECTORS, ids=[v["lua"] for v in VECTORS])
def test_vm_and_python_agree_on_vectors(vm, vector) -> None:
    data = bytes.fromhex(vector["hex"])
    expected = decode(data)
    (got,) = vm.eval(f"return {vector['lua']}").values
    if isinstance(expected, float) and expected == 0:
        assert math.copysign(1, got) == math.copysign(1, expected)
    assert _plain(got) == _plain(expected)
    if Cycle(0) not in expected.to_dict().values() if isinstance(expected, LuaTable) else True:
        assert encode(got) == data, "Python's encoder must produce the vector's bytes"


lua_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=50)
)
lua_keys = st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.text(max_size=20) | st.booleans()
# A nil field does not exist in Lua, so table values are never None.
lua_values = st.recursive(
    lua_scalars,
    lambda inner: st.dictionaries(lua_keys, inner.filter(lambda v: v is not None), max_size=6),
    max_leaves=30,
)


@given(lua_values)
def test_python_round_trip(value) -> None:
    assert _plain(decode(encode(value))) == value


@settings(max_examples=60, deadline=None)
@given(lua_values)
def test_vm_round_trip_through_lua(runtime, value) -> None:
    """Python encodes, Lua rebuilds the value from a literal, the VM encodes it back."""
    from lua_wasm_kernel.vm import LuaVM

    vm = LuaVM(runtime=runtime)
    (got,) = vm.eval(f"return {_lua_literal(value)}").values
    assert _plain(got) == value


def _lua_literal(value) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return "math.mininteger" if value == -(2**63) else str(value)
    if isinstance(value, float):
        if math.isinf(value):
            return "(1/0)" if value > 0 else "(-1/0)"
        return f"{value!r}" if "e" in repr(value) or "." in repr(value) else f"{value!r}.0"
    if isinstance(value, str):
        return '"' + "".join(f"\\{b}" for b in value.encode("utf-8")) + '"'
    items = [f"[{_lua_literal(k)}] = {_lua_literal(v)}" for k, v in value.items() if v is not None]
    return "{" + ", ".join(items) + "}"


def test_malformed_input_is_refused() -> None:
    for bad in (b"", b"\x42", b"\x04\x09\x00\x00\x00a", b"\x05\xff\xff\xff\xff", b"\x02\x01"):
        with pytest.raises(FormatError):
            decode(bad)
    with pytest.raises(FormatError):
        decode(b"\x00\x00")  # trailing bytes


def test_unencodable_python_values() -> None:
    with pytest.raises(TypeError):
        encode(object())
    with pytest.raises(OverflowError):
        encode(2**64)
    loop: dict = {}
    loop["me"] = loop
    with pytest.raises(ValueError, match="cycle"):
        encode(loop)


def test_opaque_values_decode() -> None:
    data = bytes([0x07, 6, 3, 0, 0, 0]) + b"f:1"
    assert decode(data) == Opaque("function", "f:1")


def _nested_bytes(levels: int) -> bytes:
    """`levels` tables, each holding the next at key 1, around nil: no encoder writes this past the limit."""
    from lua_wasm_kernel.abi import Tag

    level = bytes((Tag.TABLE,)) + (1).to_bytes(4, "little") + encode(1)
    return level * levels + encode(None)


def _nested(levels: int) -> list:
    value: list = []
    for _ in range(levels - 1):
        value = [value]
    return value


def test_one_depth_limit_python_side() -> None:
    from lua_wasm_kernel.abi import SERIALIZE_DEPTH_MAX
    from lua_wasm_kernel.serializer import validate

    validate(_nested_bytes(SERIALIZE_DEPTH_MAX))
    assert isinstance(decode(encode(_nested(SERIALIZE_DEPTH_MAX))), LuaTable)
    for levels in (SERIALIZE_DEPTH_MAX + 1, 9_000, 200_000):
        with pytest.raises(FormatError, match="nested more than"):
            validate(_nested_bytes(levels))
    with pytest.raises(ValueError, match="nested more than"):
        encode(_nested(SERIALIZE_DEPTH_MAX + 1))
    with pytest.raises(FormatError, match="cycle"):
        decode(b"\x06\x00\x00\x00\x00")  # a cycle outside any table


def test_engine_decoder_refuses_a_deep_stored_value_without_trapping(vm) -> None:
    """A stored value nested 9,000 deep trapped with "call stack exhausted" and reset the VM."""
    assert vm.eval("kept = 'still here'; t = ext.table('deep'); t.ok = 1").ok
    vm.ext.tables["deep"].items[encode("k")] = _nested_bytes(9_000)
    r = vm.eval("return t.k")
    assert r.status == Status.RUNTIME_ERROR and "malformed value" in r.error, (r.status, r.error)
    assert vm.eval("return kept").values == ["still here"]


def test_engine_encoder_and_host_agree_on_the_limit(vm) -> None:
    from lua_wasm_kernel.abi import SERIALIZE_DEPTH_MAX

    vm.register_host_function("deep", lambda n: _nested(n))
    host_call = 'local host_call = debug.getregistry()["lua_wasm.prelude"].host_call\n'
    r = vm.eval(host_call + f"local ok, v = host_call('deep', {SERIALIZE_DEPTH_MAX}) return ok")
    assert r.values == [True]
    r = vm.eval(host_call + f"return host_call('deep', {SERIALIZE_DEPTH_MAX + 1})")
    assert r.values[0] is False and "nested more than" in r.values[1]
    # ext refuses to store what it could not read back, naming the limit.
    r = vm.eval(f"local v = {{}} for i = 1, {SERIALIZE_DEPTH_MAX} do v = {{v}} end ext.table('d').v = v")
    assert r.status == Status.RUNTIME_ERROR and f"more than {SERIALIZE_DEPTH_MAX} levels" in r.error


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64), st.integers(min_value=0, max_value=3), st.integers(min_value=0, max_value=80),
       st.integers(min_value=0, max_value=255))
def test_validate_agrees_with_decode(noise: bytes, which: int, at: int, byte: int) -> None:
    from lua_wasm_kernel.serializer import validate

    seeds = [encode({"a": [1, 2.5, "x"], 3: True}), encode([[[]]]), b"\x05\x01\x00\x00\x00\x04\x01\x00\x00\x00k\x06\x00\x00\x00\x00", b""]
    data = bytearray(seeds[which])
    if at < len(data):
        data[at] = byte  # one byte changed inside the value
    else:
        data += noise  # or bytes after it
    data = bytes(data)
    try:
        decode(data)
    except FormatError:
        with pytest.raises(FormatError):
            validate(data)
    else:
        validate(data)
