"""Lua's reserved words have one owner, llex.c's `luaX_tokens`: every copy in our code is checked against it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LLEX = ROOT / "build" / "lua54" / "llex.c"

# (file, text just before the list, text just after it): each copy of the list, in each language.
COPIES = [
    ("src/ext.zig", "const keywords = [_][]const u8{", "};"),
    ("src/prelude.lua", "for w in ([[", "]]"),
    ("lua_wasm_kernel/lua/introspect.lua", "for w in gmatch([[", "]]"),
    ("lua_wasm_kernel/lexer.py", 'KEYWORDS = frozenset(\n    """', '"""'),
    ("jupyterlite/src/lexer.ts", "const KEYWORDS = new Set(\n  '", "'"),
    ("jupyterlite/src/completion.ts", "export const KEYWORDS = [", "];"),
]


def reserved_words() -> list[str]:
    """The first NUM_RESERVED entries of llex.c's token table: `and` .. `while`."""
    if not LLEX.exists():
        pytest.fail(f"{LLEX} is missing: the build fetches Lua's sources (pip install -e .)")
    table = re.search(r"luaX_tokens\s*\[\]\s*=\s*\{(.*?)\};", LLEX.read_text(), re.DOTALL)
    if table is None:
        pytest.fail("luaX_tokens not found in llex.c")
    words = re.findall(r'"([^"]*)"', table.group(1))
    return words[: words.index("while") + 1]


@pytest.mark.parametrize(("path", "before", "after"), COPIES, ids=[c[0] for c in COPIES])
def test_each_keyword_list_is_luas(path: str, before: str, after: str) -> None:
    text = (ROOT / path).read_text()
    start = text.find(before)
    assert start >= 0, f"{path}: the keyword list's opening {before!r} moved; update COPIES"
    start += len(before)
    end = text.find(after, start)
    words = re.findall(r"[A-Za-z_]+", text[start:end])
    assert sorted(words) == sorted(reserved_words())


def test_the_owner_reads_as_expected() -> None:
    words = reserved_words()
    assert len(words) == 22 and words[0] == "and" and "goto" in words
