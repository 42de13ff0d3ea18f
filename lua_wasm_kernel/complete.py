"""complete_request: globals, keywords, locals of the cell, `a.b.c` fields and
`s:` methods (through the metatable's __index, so a string gets string's)."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from . import introspect
from .lexer import KEYWORDS, in_string_or_comment

if TYPE_CHECKING:
    from .vm import LuaVM

# The text a completion replaces, and what it follows: `a.b.` + `pre`, or `s:` + `pre`.
# \Z, not $: a $ also matches before a last newline (as JavaScript's $ does not).
_TARGET = re.compile(
    r"(?:(?P<path>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)(?P<sep>[.:]))?(?P<prefix>[A-Za-z_]\w*)?\Z", re.ASCII
)
# Names the cell itself declares: `local a, b`, `function f(x, y)`, `for k, v in`.
_DECLARED = re.compile(
    r"\blocal[ \t]+(?:function[ \t]+)?([A-Za-z_][\w \t,]*)"
    r"|\bfunction\b[\w.: \t]*\(([\w \t,]*)"
    r"|\bfor[ \t]+([A-Za-z_][\w \t,]*?)[ \t]*(?:=|\bin\b)",
    re.ASCII,
)
_NAME = re.compile(r"[A-Za-z_]\w*", re.ASCII)
# Enough text before the cursor to hold any dotted name.
_LOOKBEHIND_CHARS = 512


def complete(vm: LuaVM, code: str, cursor_pos: int) -> dict[str, Any]:
    """The content of a complete_reply for `code` with the cursor at `cursor_pos`."""
    cursor_pos = max(0, min(cursor_pos, len(code)))
    matches: dict[str, str] = {}  # name -> type
    prefix = ""
    target = _find_target(code, cursor_pos)
    if target is not None:
        path, sep, prefix = target
        found = introspect.call(vm, "complete", path, sep, prefix)
        if isinstance(found, str):
            for line in found.splitlines():
                name, _, kind = line.partition("\t")
                matches[name] = kind
        if not path:
            for word in KEYWORDS:
                if word.startswith(prefix):
                    matches.setdefault(word, "keyword")
            for name in _declared_names(code):
                if name.startswith(prefix) and name not in KEYWORDS:
                    matches.setdefault(name, "local")
    start = cursor_pos - len(prefix)
    names = sorted(matches, key=lambda n: (n.lower(), n))
    return {
        "status": "ok",
        "matches": names,
        "cursor_start": start,
        "cursor_end": cursor_pos,
        "metadata": {
            "_jupyter_types_experimental": [
                {"start": start, "end": cursor_pos, "text": n, "type": matches[n]} for n in names
            ]
        },
    }


def _find_target(code: str, cursor_pos: int) -> tuple[str, str, str] | None:
    """(path, separator, prefix) before the cursor, or None where nothing completes."""
    before = code[max(0, cursor_pos - _LOOKBEHIND_CHARS) : cursor_pos]
    m = _TARGET.search(before)
    if m is None or in_string_or_comment(code, cursor_pos):
        return None
    path, sep, prefix = m.group("path") or "", m.group("sep") or "", m.group("prefix") or ""
    if not (path or prefix):
        return None
    lead = before[: m.start()]
    if lead.endswith((".", ":")) and not lead.endswith(".."):
        return None  # after `f().` or `t[1].`: not a name this helper can resolve
    if lead[-1:].isdigit():
        return None  # inside a number such as 0x1f
    return path, sep, prefix


def _declared_names(code: str) -> set[str]:
    names: set[str] = set()
    for m in _DECLARED.finditer(code):
        names.update(_NAME.findall(next(g for g in m.groups() if g is not None)))
    return names
