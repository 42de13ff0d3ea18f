"""What inspect shows for the standard library: signature and a short description.

The facts live in stdlib_docs.json, next to this file, which the browser
kernel (jupyterlite/) serves and reads too: one owner for both hosts. Written
for lua-wasm from the Lua 5.4 Reference Manual; where the sandbox differs from
stock Lua, the text says so.
"""
from __future__ import annotations

import json
from pathlib import Path

DOCS_PATH = Path(__file__).with_name("stdlib_docs.json")

_data = json.loads(DOCS_PATH.read_text(encoding="utf-8"))
MANUAL_URL: str = _data["manual_url"]
# name -> (signature, description); the manual's anchor is "pdf-" + name.
DOCS: dict[str, tuple[str, str]] = {name: (sig, desc) for name, (sig, desc) in _data["docs"].items()}


def lookup(name: str) -> tuple[str, str] | None:
    """The signature and description of a standard name (`string.format`, `file:write`)."""
    return DOCS.get(name)


def manual_link(name: str) -> str:
    """The manual's anchor for a standard name."""
    return f"{MANUAL_URL}#pdf-{name}"
