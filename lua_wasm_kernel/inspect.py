"""inspect_request: what the name at the cursor is.

Standard functions get their signature and description (stdlib_docs.py),
user functions their parameters and where they were defined (`[cell N]:line`)
and, at detail_level 1, their source, kept host-side by chunk name.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Mapping

from . import introspect, stdlib_docs
from .lexer import in_string_or_comment, open_call
from .serializer import LuaTable

if TYPE_CHECKING:
    from .vm import LuaVM

_NAME_BEFORE = re.compile(r"[A-Za-z_]\w*(?:[.:][A-Za-z_]\w*)*$", re.ASCII)
_WORD_AFTER = re.compile(r"\w*", re.ASCII)
_LOOKBEHIND_CHARS = 512

NOT_FOUND = {"status": "ok", "found": False, "data": {}, "metadata": {}}


def inspect(
    vm: LuaVM, code: str, cursor_pos: int, detail_level: int, sources: Mapping[str, str]
) -> dict[str, Any]:
    """The content of an inspect_reply; `sources` maps chunk names to cell code."""
    path = name_at(code, max(0, min(cursor_pos, len(code))))
    if path is None:
        return NOT_FOUND
    found = introspect.call(vm, "inspect", path)
    info = found.to_dict() if isinstance(found, LuaTable) else {}
    text = _describe(path, info, detail_level, sources)
    if text is None:
        return NOT_FOUND
    return {"status": "ok", "found": True, "data": {"text/plain": text}, "metadata": {}}


def name_at(code: str, cursor_pos: int) -> str | None:
    """The dotted name under the cursor, else the function of the call it is in."""
    if in_string_or_comment(code, cursor_pos):
        return None
    word_end = _WORD_AFTER.match(code, cursor_pos).end()
    name = _name_ending_at(code, word_end)
    if name is None:
        paren = open_call(code, cursor_pos)
        if paren is not None:
            name = _name_ending_at(code, len(code[:paren].rstrip()))
    return name


def _name_ending_at(code: str, end: int) -> str | None:
    before = code[max(0, end - _LOOKBEHIND_CHARS) : end]
    m = _NAME_BEFORE.search(before)
    if m is None:
        return None
    lead = before[: m.start()]
    if (lead.endswith((".", ":")) and not lead.endswith("..")) or lead[-1:].isdigit():
        return None
    return m.group()


def _describe(path: str, info: dict[str, Any], detail_level: int, sources: Mapping[str, str]) -> str | None:
    std = info.get("std")
    for name in (std, path.replace(":", ".")):
        doc = stdlib_docs.lookup(name) if name else None
        if doc is not None:
            signature, description = doc
            alias = f"{path} is {name}\n\n" if name != path.replace(":", ".") else ""
            value = f"\n\nValue: {info['repr']}" if "repr" in info else ""
            link = stdlib_docs.manual_link(name)
            return f"{alias}{signature}\n\n{description}{value}\n\nLua 5.4 manual: {link}"
    if not info:
        return None
    if info.get("type") != "function":
        lines = [f"Type:  {info['type']}"]
        if "repr" in info:
            lines.append(f"Value: {info['repr']}")
        return "\n".join(lines)
    return _describe_function(path, info, detail_level, sources)


def _describe_function(path: str, info: dict[str, Any], detail_level: int, sources: Mapping[str, str]) -> str:
    if info.get("what") == "C":
        return f"{path}: a C function"
    params = [p for p in (info.get("params") or "").split(", ") if p]
    if ":" in path and params[:1] == ["self"]:
        params = params[1:]  # called as a method, self is implicit
    if info.get("isvararg"):
        params.append("...")
    lines = [f"function {path}({', '.join(params)})"]
    first, last = info.get("linedefined", 0), info.get("lastlinedefined", 0)
    where = info.get("short_src", "?")
    lines.append(f"Defined at {where}:{first}" + (f"-{last}" if last > first else ""))
    if detail_level >= 1:
        source = _source_of(info.get("source", ""), sources)
        if source is not None and first > 0:
            body = "\n".join(source.splitlines()[first - 1 : last])
            lines += ["", "Source:", body]
    return "\n".join(lines)


def _source_of(source: str, sources: Mapping[str, str]) -> str | None:
    """The code of a chunk: a cell's, kept by the kernel, or a load()ed string."""
    if source.startswith("="):
        return sources.get(source[1:])
    if source.startswith("@"):
        return None  # a file: the sandbox has none
    return source
