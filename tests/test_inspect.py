"""inspect_request's content: standard docs, user functions, values."""
from __future__ import annotations

from lua_wasm_kernel.inspect import inspect, name_at
from lua_wasm_kernel.stdlib_docs import DOCS
from lua_wasm_kernel.vm import LuaVM


def text(vm: LuaVM, code: str, detail_level: int = 0, sources: dict | None = None, cursor: int | None = None) -> str | None:
    reply = inspect(vm, code, len(code) if cursor is None else cursor, detail_level, sources or {})
    assert reply["status"] == "ok"
    return reply["data"]["text/plain"] if reply["found"] else None


def test_every_exposed_standard_function_is_documented(introspect_vm: LuaVM) -> None:
    names = introspect_vm.eval(
        "local out = {}\n"
        "for _, lib in ipairs{'string', 'table', 'math', 'utf8', 'coroutine', 'os', 'io', 'debug'} do\n"
        "  for k in pairs(_G[lib]) do out[#out + 1] = lib .. '.' .. k end\n"
        "end\n"
        "for k, v in pairs(_G) do if type(v) == 'function' then out[#out + 1] = k end end\n"
        "return table.concat(out, ' ')"
    ).values[0].split()
    kernel_additions = {"display", "help"}  # documented by help() itself
    assert sorted(n for n in names if n not in DOCS and n not in kernel_additions) == []


def test_standard_function(introspect_vm: LuaVM) -> None:
    t = text(introspect_vm, "string.format")
    assert t.startswith("string.format (formatstring, ···)\n\n")
    assert "manual.html#pdf-string.format" in t


def test_alias_and_method_find_the_standard_docs(introspect_vm: LuaVM) -> None:
    introspect_vm.eval("fmt = string.format; s = 'x'")
    assert text(introspect_vm, "fmt").startswith("fmt is string.format\n\nstring.format (")
    assert "string.upper (s)" in text(introspect_vm, "s:upper")
    assert "file:write (···)" in text(introspect_vm, "io.stdout:write")
    assert "file:read (···)" in text(introspect_vm, "io.stdin:read")


def test_standard_values_show_their_value(introspect_vm: LuaVM) -> None:
    t = text(introspect_vm, "math.pi")
    assert t.startswith("math.pi\n\nThe value of pi.") and "Value: 3.14159" in t


def test_user_function_parameters_and_place(introspect_vm: LuaVM) -> None:
    code = "x = 1\nfunction area(w, h, ...)\n  return w * h\nend"
    introspect_vm.eval(code, "[cell 4]")
    t = text(introspect_vm, "area")
    assert t == "function area(w, h, ...)\nDefined at [cell 4]:2-4"
    t = text(introspect_vm, "area", detail_level=1, sources={"[cell 4]": code})
    assert t.endswith("Source:\nfunction area(w, h, ...)\n  return w * h\nend")


def test_method_hides_self(introspect_vm: LuaVM) -> None:
    introspect_vm.eval("obj = {} function obj:move(dx) end", "[cell 1]")
    assert text(introspect_vm, "obj:move").startswith("function obj:move(dx)\n")
    assert text(introspect_vm, "obj.move").startswith("function obj.move(self, dx)\n")


def test_values(introspect_vm: LuaVM) -> None:
    introspect_vm.eval("t = {1, 2, name = 'x'}")
    assert text(introspect_vm, "t") == 'Type:  table\nValue: {1, 2, name = "x"}'
    assert text(introspect_vm, "nothing_here") is None


def test_the_call_around_the_cursor(introspect_vm: LuaVM) -> None:
    assert "print (···)" in text(introspect_vm, "print(1, ")
    assert "math.max" in text(introspect_vm, "math.max(1, f(2), ")
    assert "tostring (v)" in text(introspect_vm, "tostring(x) + 1", cursor=3)  # inside the word


def test_name_at() -> None:
    assert name_at("x = string.for", 14) == "string.for"
    assert name_at("x = string.format(1)", 13) == "string.format"
    assert name_at('s = "print', 10) is None
    assert name_at("f().x", 5) is None


def test_a_user_function_with_a_standard_name_is_not_the_manuals(introspect_vm: LuaVM) -> None:
    introspect_vm.eval("function select(n) return n end", "[cell 3]")
    assert text(introspect_vm, "select") == "function select(n)\nDefined at [cell 3]:1"
