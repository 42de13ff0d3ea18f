"""is_complete_request: the VM's `load` decides, as lua.c does for its prompt.

A syntax error at <eof> means the cell may go on ("incomplete", with two
spaces of indent per open block); any other syntax error is "invalid".
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import introspect
from .lexer import open_blocks

if TYPE_CHECKING:
    from .vm import LuaVM

INDENT_UNIT = "  "


def is_complete(vm: LuaVM, code: str) -> dict[str, Any]:
    """The content of an is_complete_reply."""
    status = introspect.call(vm, "is_complete", code)
    if status not in ("complete", "incomplete", "invalid"):
        return {"status": "unknown"}
    if status == "incomplete":
        return {"status": status, "indent": INDENT_UNIT * open_blocks(code)}
    return {"status": status}
