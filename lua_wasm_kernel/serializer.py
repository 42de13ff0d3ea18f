"""The type-tagged value format (docs/FORMAT.md): the mirror of src/serializer.zig.

Bytes from wasm or from disk are hostile: decode() and validate() refuse
anything malformed, and tables nested deeper than abi.SERIALIZE_DEPTH_MAX
(the engine's own limit), with a FormatError; encode() refuses to write them.
"""
from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import Any

from .abi import SERIALIZE_DEPTH_MAX, Tag

LUA_TYPE_NAMES = {2: "userdata", 6: "function", 7: "userdata", 8: "thread"}


class FormatError(ValueError):
    """Bytes that are not a valid serialized value."""


@dataclass
class LuaTable:
    """A Lua table by value: its key/value pairs in Lua's traversal order."""

    pairs: list[tuple[Any, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[Any, Any]:
        return dict(self.pairs)


@dataclass(frozen=True)
class Cycle:
    """A reference back to the enclosing table at `depth` (0 = outermost)."""

    depth: int


@dataclass(frozen=True)
class Opaque:
    """A value that cannot cross (function, userdata, thread): its tostring text."""

    lua_type: str
    text: str


@dataclass(frozen=True)
class Truncated:
    """A table beyond the depth or item limit: its tostring text."""

    text: str


def _text(raw: bytes) -> str | bytes:
    """Lua strings are bytes: valid UTF-8 becomes str, anything else stays bytes."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw


class Reader:
    """Reads values, strings and integers from one buffer, in order."""

    def __init__(self, data: bytes | bytearray | memoryview, offset: int = 0) -> None:
        self.data = memoryview(data)
        self.offset = offset
        self.depth = 0  # tables open around the value being read

    def take(self, n: int) -> memoryview:
        if n < 0 or self.offset + n > len(self.data):
            raise FormatError(f"truncated data at offset {self.offset}: need {n} bytes")
        chunk = self.data[self.offset : self.offset + n]
        self.offset += n
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u32(self) -> int:
        return struct.unpack("<I", self.take(4))[0]

    def bytes(self) -> bytes:
        return bytes(self.take(self.u32()))

    def value(self) -> Any:
        tag = self.u8()
        if tag == Tag.NIL:
            return None
        if tag == Tag.BOOLEAN:
            return self.u8() != 0
        if tag == Tag.INTEGER:
            return struct.unpack("<q", self.take(8))[0]
        if tag == Tag.FLOAT:
            return struct.unpack("<d", self.take(8))[0]
        if tag == Tag.STRING:
            return _text(self.bytes())
        if tag == Tag.TABLE:
            if self.depth == SERIALIZE_DEPTH_MAX:
                raise FormatError(f"tables nested more than {SERIALIZE_DEPTH_MAX} levels deep at offset {self.offset - 1}")
            count = self.u32()
            if count > len(self.data) - self.offset:
                raise FormatError(f"table of {count} pairs cannot fit in the data")
            self.depth += 1
            try:
                return LuaTable([(self.value(), self.value()) for _ in range(count)])
            finally:
                self.depth -= 1
        if tag == Tag.CYCLE:
            depth = self.u32()
            if depth >= self.depth:
                raise FormatError(f"a cycle to depth {depth} inside {self.depth} open tables")
            return Cycle(depth)
        if tag == Tag.OPAQUE:
            kind = self.u8()
            return Opaque(LUA_TYPE_NAMES.get(kind, str(kind)), self.bytes().decode("utf-8", "replace"))
        if tag == Tag.TRUNCATED:
            return Truncated(self.bytes().decode("utf-8", "replace"))
        raise FormatError(f"unknown tag 0x{tag:02x} at offset {self.offset - 1}")


def decode(data: bytes | bytearray | memoryview) -> Any:
    """One value from `data`, which must hold exactly one."""
    reader = Reader(data)
    value = reader.value()
    if reader.offset != len(reader.data):
        raise FormatError(f"{len(reader.data) - reader.offset} bytes left after the value")
    return value


def validate(data: bytes | bytearray | memoryview) -> None:
    """Checks that `data` is exactly one well-formed value, within the depth
    limit, as decode() would; FormatError says why not. For bytes read from
    disk, before use: it walks the bytes without building the values."""
    view = memoryview(data)
    end = len(view)
    at = 0
    pending = [1]  # values still to read in each open table; the first entry is the top level
    while pending:
        if pending[-1] == 0:
            pending.pop()
            continue
        pending[-1] -= 1
        if at >= end:
            raise FormatError(f"truncated data at offset {at}: need a tag")
        tag = view[at]
        at += 1
        if tag == Tag.NIL:
            continue
        if tag == Tag.BOOLEAN:
            at += 1
        elif tag == Tag.INTEGER or tag == Tag.FLOAT:
            at += 8
        elif tag in _TAGS_WITH_TEXT:
            if tag == Tag.OPAQUE:
                at += 1
            at = _skip_string(view, at, end)
        elif tag == Tag.TABLE:
            if len(pending) - 1 == SERIALIZE_DEPTH_MAX:
                raise FormatError(f"tables nested more than {SERIALIZE_DEPTH_MAX} levels deep at offset {at - 1}")
            count = _u32_at(view, at, end)
            at += 4
            if count > end - at:
                raise FormatError(f"table of {count} pairs cannot fit in the data")
            pending.append(2 * count)
        elif tag == Tag.CYCLE:
            target = _u32_at(view, at, end)
            at += 4
            if target >= len(pending) - 1:
                raise FormatError(f"a cycle to depth {target} inside {len(pending) - 1} open tables")
        else:
            raise FormatError(f"unknown tag 0x{tag:02x} at offset {at - 1}")
        if at > end:
            raise FormatError(f"truncated data at offset {end}")
    if at != end:
        raise FormatError(f"{end - at} bytes left after the value")


_TAGS_WITH_TEXT = frozenset((Tag.STRING, Tag.OPAQUE, Tag.TRUNCATED))


def _u32_at(view: memoryview, at: int, end: int) -> int:
    if at + 4 > end:
        raise FormatError(f"truncated data at offset {at}: need 4 bytes")
    return struct.unpack_from("<I", view, at)[0]


def _skip_string(view: memoryview, at: int, end: int) -> int:
    length = _u32_at(view, at, end)
    if length > end - at - 4:
        raise FormatError(f"truncated data at offset {at + 4}: need {length} bytes")
    return at + 4 + length


def encode(value: Any) -> bytes:
    """Bytes for a Python value: None, bool, int (i64), float, str/bytes, dict/list/LuaTable."""
    out = bytearray()
    _encode(value, out, [])
    return bytes(out)


def _encode(value: Any, out: bytearray, path: list[int]) -> None:
    if value is None:
        out.append(Tag.NIL)
    elif isinstance(value, bool):
        out += bytes((Tag.BOOLEAN, int(value)))
    elif isinstance(value, int):
        if not -(2**63) <= value < 2**63:
            raise OverflowError(f"integer {value} does not fit in a Lua integer (64 bits)")
        out.append(Tag.INTEGER)
        out += struct.pack("<q", value)
    elif isinstance(value, float):
        out.append(Tag.FLOAT)
        out += struct.pack("<d", value)
    elif isinstance(value, (str, bytes)):
        raw = value.encode("utf-8") if isinstance(value, str) else value
        out.append(Tag.STRING)
        out += struct.pack("<I", len(raw))
        out += raw
    elif isinstance(value, (dict, list, LuaTable)):
        if id(value) in path:
            raise ValueError("a cycle cannot be encoded from Python")
        if len(path) == SERIALIZE_DEPTH_MAX:
            raise ValueError(f"tables nested more than {SERIALIZE_DEPTH_MAX} levels deep cannot be encoded")
        pairs = (
            value.pairs
            if isinstance(value, LuaTable)
            else list(value.items())
            if isinstance(value, dict)
            else list(enumerate(value, start=1))
        )
        out.append(Tag.TABLE)
        out += struct.pack("<I", len(pairs))
        path.append(id(value))
        for k, v in pairs:
            if k is None or (isinstance(k, float) and math.isnan(k)):
                raise ValueError(f"table key {k!r} is not allowed in Lua")
            _encode(k, out, path)
            _encode(v, out, path)
        path.pop()
    else:
        raise TypeError(f"cannot encode a {type(value).__name__} as a Lua value")
