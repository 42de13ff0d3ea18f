"""is_complete_request's content: Lua's `load` decides, as lua.c does."""
from __future__ import annotations

import pytest

from lua_wasm_kernel.console_dedent import dedented
from lua_wasm_kernel.is_complete import is_complete
from lua_wasm_kernel.vm import LuaVM


@pytest.mark.parametrize("code", ["1 + 1", "x = 1", "", "function f() end", "local x <const> = 5", "return 1;"])
def test_complete(introspect_vm: LuaVM, code: str) -> None:
    assert is_complete(introspect_vm, code) == {"status": "complete"}


@pytest.mark.parametrize(
    "code, indent",
    [
        ("function f(x)", "  "),
        ("function f(x)\n  if x then", "    "),
        ("for i = 1, 3 do", "  "),
        ("repeat", "  "),
        ("t = {", "  "),
        ("x =", ""),
        ("s = [[text", ""),
        ("--[[ comment", ""),
        ('print("hi"', "  "),
    ],
)
def test_incomplete_with_indent(introspect_vm: LuaVM, code: str, indent: str) -> None:
    assert is_complete(introspect_vm, code) == {"status": "incomplete", "indent": indent}


@pytest.mark.parametrize("code", ["x = = 1", "end", "1 +* 2", "goto nowhere", 's = "a\nb"'])
def test_invalid(introspect_vm: LuaVM, code: str) -> None:
    assert is_complete(introspect_vm, code) == {"status": "invalid"}


def test_nothing_runs(introspect_vm: LuaVM) -> None:
    is_complete(introspect_vm, "ran = true")
    assert introspect_vm.eval("ran").values == [None]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("function f()\n  return 1\n  end", "function f()\n  return 1\nend"),
        ("function f()\n  if x then\n    y()\n    end", "function f()\n  if x then\n    y()\n  end"),
        ("if x then\n  a()\n  else", "if x then\n  a()\nelse"),
        ("if x then\n  a()\n  elseif b then", "if x then\n  a()\nelseif b then"),
        ("repeat\n  x()\n  until x", "repeat\n  x()\nuntil x"),
        ("t = {\n  1,\n  }", "t = {\n  1,\n}"),
        ("function f()\n  return 1\nend", None),  # already in place
        ("function f()\n  local endx = 1", None),  # not a closing keyword
        ("do\n  do\n    x()\n  end", None),  # never pushed to the right
    ],
)
def test_console_dedents_closing_lines(text: str, expected: str | None) -> None:
    assert dedented(text) == expected
