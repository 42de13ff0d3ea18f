"""is_complete_request's content: Lua's `load` decides, as lua.c does."""
from __future__ import annotations

import pytest

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
