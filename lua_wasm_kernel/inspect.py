"""inspect_request and help(x): what a name or a value is.

Standard functions get their signature and description (stdlib_docs.py),
user functions their parameters and where they were defined (`[cell N]:line`)
and, at detail_level 1, their source, kept host-side by chunk name.
`describe` turns the facts lua/introspect.lua gathers into that text, for
Shift-Tab (`inspect`) and for `help(x)` (`help_text`, the host function
"describe" behind lua/display.lua), so both say the same.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Mapping

from . import introspect, stdlib_docs
from .lexer import in_string_or_comment, open_call
from .serializer import LuaTable

if TYPE_CHECKING:
    from .vm import LuaVM

_NAME_BEFORE = re.compile(r"[A-Za-z_]\w*(?:[.:][A-Za-z_]\w*)*\Z", re.ASCII)
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
    text = describe(path, found, detail_level, sources)
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


def help_text(name: Any = None, facts: Any = None) -> str:
    """help(x)'s text: `name` (a string or None) and `facts` (introspect.lua's M.info) of x."""
    if name is not None and not isinstance(name, str):
        name = name.decode("utf-8", "replace") if isinstance(name, bytes) else None
    text = describe(name or "", facts, 0, {})
    if text is not None:
        return text
    if name:
        return f"{name} is nil: nothing has that name."
    return (
        "help got nil: the value has none (an undefined name is nil).\n"
        'To look a name up, give it as a string: help("string.format").'
    )


def describe(path: str, facts: Any, detail_level: int, sources: Mapping[str, str]) -> str | None:
    """The text about the value at `path` from its facts (a LuaTable from introspect.lua), or None."""
    info = facts.to_dict() if isinstance(facts, LuaTable) else {}
    std = info.get("std")
    # Functions are known by identity (std); a path names docs only for values
    # such as math.pi, so a user's function called `select` is not the manual's.
    names = (std,) if info.get("type") == "function" else (std, path.replace(":", "."))
    for name in names:
        doc = stdlib_docs.lookup(name) if name else None
        if doc is not None:
            signature, description = doc
            alias = f"{path} is {name}\n\n" if path and name not in (path, path.replace(":", ".")) else ""
            value = f"\n\nValue: {_text(info['repr'])}" if "repr" in info else ""
            link = stdlib_docs.manual_link(name)
            return f"{alias}{signature}\n\n{description}{value}\n\nLua 5.4 manual: {link}"
    if not info:
        return None
    if info.get("type") != "function":
        lines = [f"Type:  {_text(info['type'])}"]
        if "repr" in info:
            lines.append(f"Value: {_text(info['repr'])}")
        return "\n".join(lines)
    return _describe_function(path, info, detail_level, sources)


def _text(value: Any) -> str:
    """A Lua string as text: one that is not UTF-8 arrives as bytes, shown with U+FFFD, never as b'...'."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _describe_function(path: str, info: dict[str, Any], detail_level: int, sources: Mapping[str, str]) -> str:
    if info.get("what") == "C":
        return f"{path or 'this'}: a C function"
    params = [p for p in (info.get("params") or "").split(", ") if p]
    if ":" in path and params[:1] == ["self"]:
        params = params[1:]  # called as a method, self is implicit
    if info.get("isvararg"):
        params.append("...")
    lines = [f"function {path}({', '.join(params)})"]
    first, last = info.get("linedefined", 0), info.get("lastlinedefined", 0)
    where = _text(info.get("short_src", "?"))
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
