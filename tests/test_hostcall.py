"""Host calls through the VM, without a kernel: the RPC itself, and the Lua
features built on it (display, io.read, require) with their Python handlers."""
from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from lua_wasm_kernel.abi import Status
from lua_wasm_kernel.display import Display
from lua_wasm_kernel.hostcall import HostCallError
from lua_wasm_kernel.modules import ModuleFinder, notebook_root
from lua_wasm_kernel.serializer import Opaque
from lua_wasm_kernel.vm import LuaVM

HOST_CALL = 'local host_call = debug.getregistry()["lua_wasm.prelude"].host_call\n'


def call(vm: LuaVM, lua_args: str, name: str = "f", on_output=None):
    """Runs host_call(name, <lua_args>) in the VM and returns the eval result."""
    sep = ", " if lua_args else ""
    return vm.eval(f"{HOST_CALL}return host_call({name!r}{sep}{lua_args})", on_output=on_output)


# -------------------------------------------------------------- the RPC


def test_arguments_arrive_decoded_and_the_reply_comes_back(vm: LuaVM) -> None:
    seen = []

    def handler(*args):
        seen.append(args)
        return {"ok": True, "list": [1, 2.5, "three"], "nested": {"deep": [None, "x"]}}

    vm.register_host_function("f", handler)
    r = call(vm, "1, 2.5, 'a\\0b', nil, true, {x = {1, 2}}, print")
    assert r.ok, r.error
    (args,) = seen
    assert args[:5] == (1, 2.5, "a\0b", None, True)
    assert args[5].to_dict()["x"].to_dict() == {1: 1, 2: 2}
    assert isinstance(args[6], Opaque) and args[6].lua_type == "function"
    ok, reply = r.values
    assert ok is True
    d = reply.to_dict()
    assert d["ok"] is True and d["list"].to_dict() == {1: 1, 2: 2.5, 3: "three"}
    assert d["nested"].to_dict()["deep"].to_dict() == {2: "x"}


def test_no_arguments_and_nil_reply(vm: LuaVM) -> None:
    vm.register_host_function("f", lambda: None)
    assert call(vm, "").values == [True, None]


def test_reply_larger_than_the_io_buffer(vm: LuaVM) -> None:
    big = "x" * 300_000 + "end"
    vm.register_host_function("f", lambda n: big[:n])
    r = vm.eval(f"{HOST_CALL}local ok, s = host_call('f', {len(big)}) return ok, #s, s:sub(-3)")
    assert r.values == [True, len(big), "end"]


def test_reply_too_large_for_the_heap_is_a_memory_error_and_the_vm_goes_on(vm: LuaVM) -> None:
    vm.eval("kept = 7")
    vm.register_host_function("f", lambda: b"y" * (4 * 1024 * 1024))
    r = call(vm, "")
    assert r.status == Status.OUT_OF_MEMORY
    assert vm.host_calls._reply is None  # dropped by the engine at once, not left for the next call
    vm.register_host_function("f", lambda: "small")
    assert call(vm, "").values == [True, "small"]
    assert vm.eval("kept").values == [7]


def test_python_errors_become_lua_errors(vm: LuaVM) -> None:
    def fails(x):
        raise ValueError(f"bad value {x}")

    vm.register_host_function("f", fails)
    assert call(vm, "3").values == [False, "bad value 3"]
    vm.register_host_function("f", lambda: (_ for _ in ()).throw(HostCallError("verbatim message")))
    assert call(vm, "").values == [False, "verbatim message"]
    assert call(vm, "", name="nope").values == [False, "the host has no function 'nope'"]
    vm.register_host_function("f", lambda: object())
    ok, message = call(vm, "").values
    assert ok is False and message.startswith("TypeError: cannot encode")
    vm.register_host_function("f", None)
    assert call(vm, "").values == [False, "the host has no function 'f'"]
    assert vm.eval("1 + 1").values == [2]


def test_pending_output_reaches_the_host_before_the_call(vm: LuaVM, output) -> None:
    at_call = []
    vm.register_host_function("f", lambda: at_call.append(output.text()))
    r = vm.eval(f"{HOST_CALL}io.write('before ') print('line') host_call('f') print('after')", on_output=output)
    assert r.ok
    assert at_call == ["before line\n"]
    assert output.text() == "before line\nafter\n"


def test_an_interrupt_during_a_host_call_stops_the_eval(vm: LuaVM) -> None:
    def interrupted():
        raise KeyboardInterrupt

    vm.register_host_function("f", interrupted)
    # pcall cannot swallow it: the hook stays armed and raises again.
    r = vm.eval(f"{HOST_CALL}for i = 1, 3 do pcall(host_call, 'f') end done = true")
    assert r.status == Status.INTERRUPTED
    assert vm.eval("done").values == [None]
    assert vm.eval("1 + 1").values == [2]


def test_host_call_name_is_checked(vm: LuaVM) -> None:
    r = vm.eval(f"{HOST_CALL}host_call(('n'):rep(300))")
    assert r.status == Status.RUNTIME_ERROR and "name too long" in r.error
    with pytest.raises(ValueError):
        vm.register_host_function("n" * 300, lambda: None)


def test_host_functions_survive_a_reset(vm: LuaVM) -> None:
    vm.register_host_function("f", lambda: "still here")
    vm.reset()
    assert call(vm, "").values == [True, "still here"]


def test_lua_modules_load_on_first_use_from_the_host(vm: LuaVM) -> None:
    loaded = "local m = debug.getregistry()['lua_wasm.modules'] return m.display ~= nil, m.require ~= nil"
    assert vm.eval(loaded).values == [False, False]
    assert vm.eval("type(display.html), type(help), type(io.read), type(io.stdin.read)").values == ["function"] * 4
    assert vm.eval("pcall(display.html, 'x')").values[0] is False  # no "display" host function here
    assert vm.eval(loaded).values == [True, False]
    r = vm.eval(f"{HOST_CALL}return host_call('lua_wasm.module', 'os')")
    assert r.values == [False, "no such module: 'os'"]


def test_module_errors_point_at_the_callers_line_through_stubs(vm: LuaVM) -> None:
    vm.eval("function wrapper()\n  local r = display.html(42, 'not a table')\nend", chunk_name="[cell 8]")
    r = vm.eval("\n\nwrapper()", chunk_name="[cell 9]")
    assert r.error == "[cell 8]:2: bad argument #2 to 'display.html' (table expected, got string)"
    r = vm.eval("local f = io.read\nlocal ok, e = pcall(f, {}) error(e, 0)", chunk_name="[cell 9]")
    assert r.error == "bad argument #1 to 'io.read' (string expected, got table)"  # liolib's own


# -------------------------------------------------------------- io.read


class Lines:
    """A fake frontend: answers input requests from a list (None = end of input)."""

    def __init__(self, *lines: str | None) -> None:
        self.lines = list(lines)
        self.requests = 0

    def __call__(self, prompt="", password=False):
        self.requests += 1
        if not self.lines:
            return None
        return self.lines.pop(0)


@pytest.fixture
def stdin(vm: LuaVM):
    def feed(*lines):
        reader = Lines(*lines)
        vm.register_host_function("input", reader)
        return reader

    return feed


def test_read_lines(vm: LuaVM, stdin) -> None:
    stdin("first", "second", "third")
    assert vm.eval("io.read()").values == ["first"]
    assert vm.eval("io.read('L')").values == ["second\n"]
    assert vm.eval("io.read('*l')").values == ["third"]
    assert vm.eval("io.read('l')").values == [None]  # end of input


def test_read_numbers_from_one_line_and_the_rest(vm: LuaVM, stdin) -> None:
    stdin("3 4.5 0x10 -2e3 rest", "", "7")
    r = vm.eval("return io.read('n', 'n', 'n', 'n', 'l')")
    assert r.values == [3, 4.5, 16, -2000.0, " rest"]
    # "n" skips blank lines; a non-numeral fails with nil and stops the formats.
    assert vm.eval("io.read('n')").values == [7]


def test_read_number_failure_stops_the_formats(vm: LuaVM, stdin) -> None:
    stdin("abc", "next")
    assert vm.eval("return io.read('n', 'l')").values == [None]
    assert vm.eval("io.read('l')").values == ["abc"]


def test_input_left_by_an_earlier_cell_is_dropped(vm: LuaVM, stdin) -> None:
    stdin("21 rest", "next")
    epoch = [1]
    vm.register_host_function("input_epoch", lambda: epoch[0])
    assert vm.eval("return io.read('n')").values == [21]
    assert vm.eval("return io.read(2)").values == [" r"]  # the same epoch: still buffered
    epoch[0] = 2
    assert vm.eval("io.read('l')").values == ["next"]


def test_read_bytes_and_all(vm: LuaVM, stdin) -> None:
    stdin("hello world", "one", "two", "", "after")
    assert vm.eval("return io.read(5, 1, 0)").values == ["hello", " ", ""]
    # "a": what is buffered, then lines up to an empty one.
    assert vm.eval("io.read('a')").values == ["world\none\ntwo\n"]
    assert vm.eval("io.read()").values == ["after"]
    assert vm.eval("io.read(3)").values == [None]
    assert vm.eval("io.read('a')").values == [""]


def test_lines_and_stdin_object(vm: LuaVM, stdin) -> None:
    stdin("a", "b", "c", None, "x 1")
    r = vm.eval("local t = {} for l in io.lines() do t[#t + 1] = l end return table.concat(t, ',')")
    assert r.values == ["a,b,c"]
    assert vm.eval("io.stdin:read('l')").values == ["x 1"]
    assert vm.eval("io.input() == io.stdin and tostring(io.stdin):match('^file %(0x%x+%)$') ~= nil").values == [True]
    assert vm.eval("io.stdin:write('x')").values == [None, "Bad file descriptor", 9]


def test_read_without_a_frontend_that_allows_input(vm: LuaVM) -> None:
    def refuse(prompt="", password=False):
        raise HostCallError("this frontend does not allow input")

    vm.register_host_function("input", refuse)
    r = vm.eval("local line = io.read()", chunk_name="[cell 4]")
    assert r.status == Status.RUNTIME_ERROR
    assert r.error == "[cell 4]:1: io.read: this frontend does not allow input"
    r = vm.eval("for l in io.lines() do end", chunk_name="[cell 5]")
    assert r.error == "[cell 5]:1: io.lines: this frontend does not allow input"


def test_read_format_errors(vm: LuaVM, stdin) -> None:
    stdin("x")
    r = vm.eval("local v = io.read('z')", chunk_name="[cell 1]")
    assert r.error == "[cell 1]:1: bad argument #1 to 'read' (invalid format)"
    r = vm.eval("local v = io.read('l', 1.5)", chunk_name="[cell 1]")
    assert "bad argument #2 to 'read' (number has no integer representation)" in r.error
    assert vm.eval("io.lines('file.txt')").error.endswith("cannot open file 'file.txt' (Permission denied)")


def test_output_before_read_is_flushed_first(vm: LuaVM, output) -> None:
    seen = []
    vm.register_host_function("input", lambda prompt, pw: seen.append(output.text()) or "Ada")
    r = vm.eval("io.write('Name? ') local n = io.read() print('Hi ' .. n)", on_output=output)
    assert r.ok and seen == ["Name? "]
    assert output.text() == "Name? Hi Ada\n"


# -------------------------------------------------------------- display


@pytest.fixture
def shown(vm: LuaVM):
    messages: list[tuple[str, dict]] = []
    display = Display(lambda msg_type, content: messages.append((msg_type, content)))
    display.register(vm)
    display.begin()
    return display, messages


def test_display_kinds(vm: LuaVM, shown) -> None:
    display, messages = shown
    code = """
    display.html('<b>hi</b>')
    display.markdown('# Title')
    display.latex('$x^2$')
    display.svg('<svg></svg>')
    display.text('plain')
    display.json({1, 2, {a = true}})
    display.json('{"k": [1, null]}')
    display.png('\\137PNG\\0\\255')
    display.data({['text/html'] = '<i>x</i>', ['text/plain'] = 'x'})
    """
    r = vm.eval(code)
    assert r.ok, r.error
    assert [m for m, _ in messages] == ["display_data"] * 9
    data = [c["data"] for _, c in messages]
    assert data[0] == {"text/html": "<b>hi</b>", "text/plain": "[HTML]"}
    assert data[1] == {"text/markdown": "# Title", "text/plain": "# Title"}
    assert data[2]["text/latex"] == "$x^2$"
    assert data[3]["image/svg+xml"] == "<svg></svg>"
    assert data[4] == {"text/plain": "plain"}
    assert data[5]["application/json"] == [1, 2, {"a": True}]
    assert data[6]["application/json"] == {"k": [1, None]}
    assert base64.b64decode(data[7]["image/png"]) == b"\x89PNG\x00\xff"
    assert data[8] == {"text/html": "<i>x</i>", "text/plain": "x"}
    assert all(c["metadata"] == {} and c["transient"] == {} for _, c in messages)


def test_display_returns_nothing_without_an_id(vm: LuaVM, shown) -> None:
    r = vm.eval("display.html('<p>x</p>')")
    assert r.ok and r.values == []


def test_display_ids_and_updates(vm: LuaVM, shown) -> None:
    _, messages = shown
    r = vm.eval("h = display.html('a', {id = 'x'}) return h.id")
    assert r.values == ["x"]
    assert vm.eval("h:update('b')").ok
    assert vm.eval("display.update('x', 'c')").ok
    assert vm.eval("display.update('x', '**d**', 'markdown')").ok
    assert vm.eval("display.markdown('e', {id = 'x', update = true})").ok
    kinds = [(m, c["transient"].get("display_id"), next(iter(c["data"].values()))) for m, c in messages]
    assert kinds == [
        ("display_data", "x", "a"),
        ("update_display_data", "x", "b"),
        ("update_display_data", "x", "c"),
        ("update_display_data", "x", "**d**"),
        ("update_display_data", "x", "e"),
    ]
    r = vm.eval("local g = display.text('t', {id = true}) return g.id")
    assert len(r.values[0]) == 32 and messages[-1][1]["transient"]["display_id"] == r.values[0]
    r = vm.eval("display.update('never-shown', 'x')")
    assert r.status == Status.RUNTIME_ERROR and "unknown display id 'never-shown'" in r.error


def test_display_clear_and_page(vm: LuaVM, shown) -> None:
    display, messages = shown
    assert vm.eval("display.clear() display.clear(true)").ok
    assert messages == [("clear_output", {"wait": False}), ("clear_output", {"wait": True})]
    assert vm.eval("display.page('long text')").ok
    assert display.payloads == [{"source": "page", "data": {"text/plain": "long text"}, "start": 0}]


def test_help_pages_a_description(introspect_vm: LuaVM) -> None:
    """help(x) pages inspect.py's text (test_kernel_display.py checks it equals Shift-Tab's)."""
    vm = introspect_vm  # the kernel's Lua helpers, which help uses, are loaded
    display = Display(lambda msg_type, content: None)
    display.register(vm)
    display.begin()
    assert vm.eval("help(string.format)").ok
    text = display.payloads[-1]["data"]["text/plain"]
    assert text.startswith("string.format (formatstring, ···)\n\n")
    assert "manual.html#pdf-string.format" in text
    assert vm.eval("function greet(name, ...) end help(greet)", "[cell 2]").ok
    assert display.payloads[-1]["data"]["text/plain"] == "function greet(name, ...)\nDefined at [cell 2]:1"
    assert vm.eval("help('table.concat')").ok
    assert "pdf-table.concat" in display.payloads[-1]["data"]["text/plain"]
    assert vm.eval("help({1, 2, x = 3})").ok
    assert display.payloads[-1]["data"]["text/plain"] == "Type:  table\nValue: {1, 2, x = 3}"
    assert vm.eval("help()").ok
    assert "display.html" in display.payloads[-1]["data"]["text/plain"]


def test_help_without_the_kernels_helpers_is_a_clear_error(vm: LuaVM, shown) -> None:
    r = vm.eval("help(print)")
    assert r.status == Status.RUNTIME_ERROR and "help: the kernel's introspection helpers are not loaded" in r.error


def test_display_of_any_value(vm: LuaVM, shown) -> None:
    _, messages = shown
    assert vm.eval("display({1, 'two'})").ok
    assert messages[-1][1]["data"] == {"text/plain": '{1, "two"}'}


def test_display_errors_point_at_the_call(vm: LuaVM, shown) -> None:
    r = vm.eval("local x = display.html({})", chunk_name="[cell 3]")
    assert r.error == "[cell 3]:1: bad argument #1 to 'display.html' (string expected, got table)"
    r = vm.eval("local t = {} t.t = t display.json(t)", chunk_name="[cell 3]")
    assert r.error == "[cell 3]:1: display.json: a table that contains itself cannot be shown as JSON"
    r = vm.eval("display.json({f = print})")
    assert "a function cannot be shown as JSON" in r.error
    r = vm.eval("display.data({html = 'x'})")
    assert "'html' is not a MIME type" in r.error


def test_silent_execution_sends_nothing(vm: LuaVM, shown) -> None:
    display, messages = shown
    display.begin(enabled=False)
    assert vm.eval("display.html('x') display.clear() display.page('p')").ok
    assert messages == [] and display.payloads == []


def test_display_keeps_order_with_print(vm: LuaVM, shown) -> None:
    _, messages = shown
    events = []
    vm.register_host_function("display", lambda *a: events.append(("display", a[1])))
    r = vm.eval("print('one') display.text('two') print('three')",
                on_output=lambda s, t: events.append(("stream", t)))
    assert r.ok
    assert events == [("stream", "one\n"), ("display", "two"), ("stream", "three\n")]


# -------------------------------------------------------------- require


@pytest.fixture
def modules(vm: LuaVM, tmp_path: Path) -> Path:
    root = tmp_path / "notebook"
    root.mkdir()
    ModuleFinder(root).register(vm)
    return root


def test_require_loads_and_caches(vm: LuaVM, modules: Path, output) -> None:
    (modules / "greet.lua").write_text("print('loading', ...)\nreturn {hello = function() return 'hi' end}")
    r = vm.eval("g = require 'greet' return g.hello()", on_output=output)
    assert r.values == ["hi"]
    assert output.text() == "loading\tgreet\t./greet.lua\n"
    r = vm.eval("return require('greet') == g, select(2, require('greet'))", on_output=output)
    assert r.values[0] is True
    assert output.text().count("loading") == 1


def test_require_dotted_names_and_init(vm: LuaVM, modules: Path) -> None:
    (modules / "pkg" / "sub").mkdir(parents=True)
    (modules / "pkg" / "init.lua").write_text("return 'pkg init'")
    (modules / "pkg" / "sub" / "leaf.lua").write_text("return 'leaf'")
    assert vm.eval("require 'pkg'").values == ["pkg init", "./pkg/init.lua"]
    assert vm.eval("require 'pkg.sub.leaf'").values == ["leaf", "./pkg/sub/leaf.lua"]
    # A module that returns nothing is recorded as true.
    (modules / "quiet.lua").write_text("x_loaded = true")
    assert vm.eval("require 'quiet'").values[0] is True


def test_require_not_found_lists_the_paths_tried(vm: LuaVM, modules: Path) -> None:
    r = vm.eval("require 'missing.mod'", chunk_name="[cell 1]")
    assert r.status == Status.RUNTIME_ERROR
    assert r.error == (
        "[cell 1]:1: module 'missing.mod' not found:\n"
        "\tno field package.preload['missing.mod']\n"
        "\tno file './missing/mod.lua'\n"
        "\tno file './missing/mod/init.lua'\n"
        "\tno file './missing/mod.so'\n"  # package.cpath, as Lua's message lists it
        "\tno file './missing.so'"
    )


def test_require_cannot_leave_the_root(vm: LuaVM, modules: Path) -> None:
    outside = modules.parent / "secret.lua"
    outside.write_text("return 'secret'")
    (modules / "link.lua").symlink_to(outside)
    (modules / "dir").symlink_to(modules.parent)
    for name in ("link", "dir.secret", "..secret", "/secret"):
        r = vm.eval(f"require {name!r}")
        assert r.status == Status.RUNTIME_ERROR and "not found" in r.error, name
    for path in ("../?.lua", str(modules.parent) + "/?.lua", "./dir/?.lua"):
        r = vm.eval(f"package.path = {path!r} return require 'secret'")
        assert r.status == Status.RUNTIME_ERROR and "not found" in r.error, path
    vm.eval("package.path = './?.lua;./?/init.lua'")
    r = vm.eval(f"{HOST_CALL}return host_call('read_module', '../secret.lua')")
    assert r.values[0] is False and "not a file inside the notebook's folder" in r.values[1]


def test_require_loads_text_only_and_reports_load_errors(vm: LuaVM, modules: Path) -> None:
    r = vm.eval("string.dump(function() return 1 end)")
    (modules / "binary.lua").write_bytes(r.values[0] if isinstance(r.values[0], bytes) else r.values[0].encode())
    r = vm.eval("require 'binary'")
    assert r.status == Status.RUNTIME_ERROR
    assert "error loading module 'binary' from file './binary.lua'" in r.error
    assert "attempt to load a binary chunk" in r.error
    (modules / "broken.lua").write_text("return = 1")
    r = vm.eval("require 'broken'")
    assert "error loading module 'broken' from file './broken.lua':\n\t./broken.lua:1:" in r.error
    (modules / "raises.lua").write_text("error('inside the module')")
    assert "./raises.lua:1: inside the module" in vm.eval("require 'raises'").error


def test_preload_and_searchpath(vm: LuaVM, modules: Path) -> None:
    (modules / "found.lua").write_text("return 1")
    assert vm.eval("package.preload.virtual = function() return 'v' end return require 'virtual'").values[0] == "v"
    assert vm.eval("package.searchpath('found', package.path)").values == ["./found.lua"]
    assert vm.eval("package.searchpath('a.b', './?.lua')").values == [None, "no file './a/b.lua'"]


def test_notebook_root(tmp_path: Path, monkeypatch) -> None:
    notebook = tmp_path / "work" / "analysis.ipynb"
    notebook.parent.mkdir()
    assert notebook_root({"JPY_SESSION_NAME": str(notebook)}) == notebook.parent
    monkeypatch.chdir(tmp_path)
    assert notebook_root({"JPY_SESSION_NAME": "work/analysis.ipynb"}) == Path(os.getcwd())
    assert notebook_root({}) == Path(os.getcwd())
