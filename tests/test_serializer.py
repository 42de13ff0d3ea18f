"""The value format: shared vectors for the Zig and Python sides, and round-trip properties."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
