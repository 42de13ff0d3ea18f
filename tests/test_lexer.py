"""Host-side Lua tokens: strings, comments, open calls and open blocks."""
from __future__ import annotations

import pytest

from lua_wasm_kernel.lexer import in_string_or_comment, open_blocks, open_call, tokens


@pytest.mark.parametrize(
    "code, inside",
    [
        ('x = "abc', True),
        ('x = "abc"', False),
        ('x = "a\\"', True),  # the quote is escaped: still open
        ('x = "a\\\\"', False),
        ("x = 'it''s", True),
        ("s = [[long", True),
        ("s = [==[a]]", True),  # wrong level: still open
        ("s = [==[a]==]", False),
        ("-- a comment", True),
        ("--[[ block", True),
        ("--[[ block ]]", False),
        ("--[=[ block ]]", True),
        ("--[ not a block", True),
        ("x = 1 -- note\ny", False),
        ("print(x", False),
    ],
)
def test_in_string_or_comment_at_the_end(code: str, inside: bool) -> None:
    assert in_string_or_comment(code, len(code)) is inside


def test_cursor_before_the_end() -> None:
    code = 'print("hi") -- done'
    assert in_string_or_comment(code, 8) and not in_string_or_comment(code, 6)
    assert in_string_or_comment(code, 16)


def test_open_call() -> None:
    assert open_call("print(x", 7) == 5
    assert open_call("f(a, g(b), ", 11) == 1
    assert open_call("f(a) + g(", 9) == 8
    assert open_call("f(a)", 4) is None
    assert open_call('f(")", ', 7) == 1  # a paren in a string does not count


@pytest.mark.parametrize(
    "code, depth",
    [
        ("x = 1", 0),
        ("function f()", 1),
        ("function f()\n  if x then", 2),
        ("if a then x elseif b then", 1),
        ("if a then x else", 1),
        ("while x do", 1),
        ("for i = 1, 3 do print(i) end", 0),
        ("repeat", 1),
        ("repeat x = 1 until", 0),
        ("t = {", 1),
        ("t = {f(", 2),
        ("s = 'end'", 0),
        ("-- function", 0),
        ("end end", 0),
    ],
)
def test_open_blocks(code: str, depth: int) -> None:
    assert open_blocks(code) == depth


def test_tokens_kinds() -> None:
    kinds = [(t.kind, t.text) for t in tokens("local x = 0x1F .. 'a' --c")]
    assert kinds == [
        ("keyword", "local"), ("name", "x"), ("op", "="), ("number", "0x1F"),
        ("op", ".."), ("string", "'a'"), ("comment", "--c"),
    ]
