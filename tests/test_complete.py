"""complete_request's content, computed against a real VM."""
from __future__ import annotations

import pytest

from lua_wasm_kernel.complete import complete
from lua_wasm_kernel.vm import LuaVM


def matches(vm: LuaVM, code: str, cursor_pos: int | None = None) -> list[str]:
    return complete(vm, code, len(code) if cursor_pos is None else cursor_pos)["matches"]


def test_globals_and_keywords(introspect_vm: LuaVM) -> None:
    introspect_vm.eval("total = 3; totem = 'x'")
    assert matches(introspect_vm, "tot") == ["total", "totem"]
    assert matches(introspect_vm, "pr") == ["print"]
    assert matches(introspect_vm, "ret") == ["return"]
    assert "function" in matches(introspect_vm, "f")


def test_field_chains(introspect_vm: LuaVM) -> None:
    introspect_vm.eval("config = {server = {port = 80, ports = {}, host = 'h'}}")
    reply = complete(introspect_vm, "x = config.server.po", 20)
    assert reply["matches"] == ["port", "ports"]
    assert (reply["cursor_start"], reply["cursor_end"]) == (18, 20)
    assert matches(introspect_vm, "config.") == ["server"]
    assert matches(introspect_vm, "string.fo") == ["format"]
    assert matches(introspect_vm, "config.nothing.x") == []


def test_methods_of_a_string_variable(introspect_vm: LuaVM) -> None:
    introspect_vm.eval("name = 'lua'")
    reply = complete(introspect_vm, "name:up", 7)
    assert reply["matches"] == ["upper"] and reply["cursor_start"] == 5
    assert {"byte", "format", "gsub", "upper"} <= set(matches(introspect_vm, "name:"))


def test_methods_through_an_index_table(introspect_vm: LuaVM) -> None:
    introspect_vm.eval(
        "Base = {greet = function() end, size = 1}; Base.__index = Base\n"
        "Point = setmetatable({move = function() end}, Base); Point.__index = Point\n"
        "p = setmetatable({x = 1}, Point)"
    )
    assert matches(introspect_vm, "p:") == ["greet", "move"]  # only callables after ':'
    assert set(matches(introspect_vm, "p.")) >= {"x", "move", "greet", "size", "__index"}


def test_index_functions_are_never_called(introspect_vm: LuaVM) -> None:
    introspect_vm.eval("calls = 0; lazy = setmetatable({}, {__index = function() calls = calls + 1 end})")
    assert matches(introspect_vm, "lazy.") == []
    assert introspect_vm.eval("calls").values == [0]


def test_names_declared_in_the_cell(introspect_vm: LuaVM) -> None:
    code = "local alpha, alpine = 1, 2\nfunction f(albatross) end\nfor _, altitude in pairs({}) do\nprint(al"
    assert matches(introspect_vm, code) == ["albatross", "alpha", "alpine", "altitude"]


@pytest.mark.parametrize(
    "code",
    ['s = "pri', "-- pri", "--[[ pri", "x = [[pri", "f().pri", "t[1].pri", "0x1f", "x = 1.5"],
)
def test_nothing_inside_strings_comments_numbers_or_expressions(introspect_vm: LuaVM, code: str) -> None:
    assert matches(introspect_vm, code) == []


def test_after_concatenation(introspect_vm: LuaVM) -> None:
    assert matches(introspect_vm, "'a'..pri") == ["print"]
    assert matches(introspect_vm, "'a' .. string.up") == ["upper"]


def test_cursor_in_the_middle(introspect_vm: LuaVM) -> None:
    reply = complete(introspect_vm, "print(tostr) + 1", 11)
    assert reply["matches"] == ["tostring"]
    assert (reply["cursor_start"], reply["cursor_end"]) == (6, 11)


def test_sandbox_stubs_are_not_offered(introspect_vm: LuaVM) -> None:
    offered = matches(introspect_vm, "io.")
    assert {"open", "read", "stderr", "stdout", "write"} <= set(offered)  # io is Lua's own
    assert "execute" not in matches(introspect_vm, "os.")


def test_user_globals_are_untouched(introspect_vm: LuaVM) -> None:
    r = introspect_vm.eval("local n = 0 for k in pairs(_G) do n = n + 1 end return n")
    fresh = LuaVM(runtime=introspect_vm.runtime).eval("local n = 0 for k in pairs(_G) do n = n + 1 end return n")
    assert r.values == fresh.values


def test_types_metadata(introspect_vm: LuaVM) -> None:
    introspect_vm.eval("tbl = {}")
    reply = complete(introspect_vm, "tb", 2)
    assert reply["metadata"]["_jupyter_types_experimental"] == [
        {"start": 0, "end": 2, "text": "tbl", "type": "table"}
    ]


def test_helpers_survive_a_reset(introspect_vm: LuaVM) -> None:
    introspect_vm.reset()
    assert matches(introspect_vm, "string.fo") == ["format"]


def test_helpers_survive_a_forced_rebuild(introspect_vm: LuaVM) -> None:
    # An interrupted long C call is stopped by force; the VM rebuilds its instance.
    import threading

    from lua_wasm_kernel.abi import Status

    introspect_vm.watcher.escalate_after = 0.3
    timer = threading.Timer(0.1, introspect_vm.interrupt)
    timer.start()
    r = introspect_vm.eval("string.find(string.rep('a', 40), string.rep('a-', 40) .. 'b')")
    timer.join()
    assert r.status == Status.TRAPPED
    assert matches(introspect_vm, "string.fo") == ["format"]
