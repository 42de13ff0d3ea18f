"""The kernel as a frontend sees it: jupyter_kernel_test's whole suite, then
jupyter_client checks of ordering, error shapes, counting, history, config and
restart. Every test starts the real kernel from a kernelspec installed for
this checkout (tests/kernel_env.py)."""
from __future__ import annotations

import sqlite3
import time
from queue import Empty
from typing import Iterator

import jupyter_kernel_test
import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager, start_new_kernel

from kernel_client import TIMEOUT, kernel as started_kernel, drain, run, streams
from kernel_env import KERNEL_NAME, add_variant, history_file, use_test_kernelspec
from lua_wasm_kernel import LUA_VERSION, __version__
from lua_wasm_kernel.vm import LuaVM



def _vm_has(expression: str) -> bool:
    return LuaVM().eval(expression).values == [True]


# display, display.page and display.clear are the display engineer's work (host
# calls): their library samples are enabled only once the engine has them.
HAS_DISPLAY = _vm_has("type(display) == 'table'")


class LuaWasmKernelTests(jupyter_kernel_test.KernelTests):
    """Every test of jupyter_kernel_test 0.7, with Lua samples."""

    kernel_name = KERNEL_NAME
    language_name = "lua"
    file_extension = ".lua"

    code_hello_world = 'print("hello, world")'
    code_stderr = 'io.stderr:write("to stderr\\n")'
    code_generate_error = 'error("boom")'
    code_execute_result = [
        {"code": "6 * 7", "result": "42"},
        {"code": "'lua' .. 'wasm'", "result": "luawasm"},
        {"code": "{1, 2, x = 3}", "result": "{1, 2, x = 3}"},
    ]
    completion_samples = [
        {"text": "prin", "matches": {"print"}},
        {"text": "string.up", "matches": {"upper"}},
        {"text": "math.ma", "matches": {"max", "maxinteger"}},
        {"text": "whil", "matches": {"while"}},
    ]
    complete_code_samples = ["1 + 1", "x = 1", "function f() end", "for i = 1, 3 do print(i) end", ""]
    incomplete_code_samples = ["function f(x)", "if x then", "t = {", "s = [[text", "for i = 1, 3 do", "x ="]
    invalid_code_samples = ["x = = 1", "end", "1 +* 2", "local 1 = 2", "goto nowhere"]
    code_inspect_sample = "print"
    code_history_pattern = "6*"
    supported_history_operations = ("tail", "range", "search")

    if HAS_DISPLAY:
        code_page_something = 'display.page("a page of text")'
        code_display_data = [
            {"code": 'display.html("<b>bold</b>")', "mime": "text/html"},
            {"code": 'display.markdown("# title")', "mime": "text/markdown"},
        ]
        code_clear_output = "display.clear()"

    @classmethod
    def setUpClass(cls) -> None:
        use_test_kernelspec()
        super().setUpClass()


class LuaWasmIopubWelcomeTests(jupyter_kernel_test.IopubWelcomeTests):
    """ipykernel 7's IOPub socket greets each new subscriber (JEP 65)."""

    kernel_name = KERNEL_NAME
    support_iopub_welcome = True

    @classmethod
    def setUpClass(cls) -> None:
        use_test_kernelspec()
        super().setUpClass()


# -- jupyter_client tests: one kernel for the module, fresh ones where needed


@pytest.fixture(scope="module")
def kernel() -> Iterator[tuple[KernelManager, BlockingKernelClient]]:
    with started_kernel() as pair:
        yield pair


@pytest.fixture
def kc(kernel: tuple[KernelManager, BlockingKernelClient]) -> BlockingKernelClient:
    client = kernel[1]
    drain(client)
    return client


def test_kernel_info(kc: BlockingKernelClient) -> None:
    content = kc.kernel_info(reply=True, timeout=TIMEOUT)["content"]
    assert content["implementation"] == "lua-wasm"
    assert content["implementation_version"] == __version__
    assert content["language_info"] == {
        "name": "lua",
        "version": "5.4.8",
        "mimetype": "text/x-lua",
        "file_extension": ".lua",
        "codemirror_mode": "lua",
        "pygments_lexer": "lua",
    }
    assert LUA_VERSION == "5.4.8"
    assert "Lua 5.4.8" in content["banner"] and "memory limit 2 MiB" in content["banner"]
    assert any(link["url"].startswith("https://www.lua.org/manual/5.4") for link in content["help_links"])


def test_streams_keep_their_order_and_come_before_idle(kc: BlockingKernelClient) -> None:
    code = 'print("a") io.write("b") io.stderr:write("c") print("d") return 1'
    reply, messages = run(kc, code)
    assert reply["content"]["status"] == "ok"
    assert streams(messages) == [("stdout", "a\nb"), ("stderr", "c"), ("stdout", "d\n")]
    kinds = [m["msg_type"] for m in messages]
    assert kinds[0] == "status" and kinds[1] == "execute_input"
    assert kinds.index("execute_result") > max(i for i, k in enumerate(kinds) if k == "stream")
    assert kinds[-1] == "status"


def test_large_output_is_complete_before_idle(kc: BlockingKernelClient) -> None:
    reply, messages = run(kc, 'for i = 1, 20000 do print(("line %05d"):format(i)) end')
    assert reply["content"]["status"] == "ok"
    ((name, text),) = streams(messages)
    lines = text.splitlines()
    assert name == "stdout"
    assert len(lines) == 20000 and lines[0] == "line 00001" and lines[-1] == "line 20000"


def test_output_before_an_error_is_kept(kc: BlockingKernelClient) -> None:
    reply, messages = run(kc, 'print("before") error("after")')
    assert streams(messages) == [("stdout", "before\n")]
    assert [m["msg_type"] for m in messages].count("error") == 1
    assert reply["content"]["status"] == "error"


def _error(kc: BlockingKernelClient, code: str) -> tuple[dict, dict]:
    reply, messages = run(kc, code)
    errors = [m["content"] for m in messages if m["msg_type"] == "error"]
    assert len(errors) == 1
    assert reply["content"]["status"] == "error"
    for key in ("ename", "evalue", "traceback"):
        assert reply["content"][key] == errors[0][key]
    content = errors[0]
    assert isinstance(content["traceback"], list)
    assert content["traceback"] and all(isinstance(line, str) for line in content["traceback"])
    return reply["content"], content


def test_syntax_error_shape(kc: BlockingKernelClient) -> None:
    reply, content = _error(kc, "x = = 1")
    n = reply["execution_count"]
    assert content["ename"] == "SyntaxError"
    assert content["evalue"].startswith(f"[cell {n}]:1:")
    assert content["evalue"] in content["traceback"][0]


def test_runtime_error_shape(kc: BlockingKernelClient) -> None:
    reply, content = _error(kc, 'local x = 1\nerror("boom")')
    n = reply["execution_count"]
    assert content["ename"] == "LuaError"
    assert content["evalue"] == f"[cell {n}]:2: boom"
    assert "stack traceback" in "\n".join(content["traceback"])


def test_memory_error_shape_and_the_kernel_goes_on(kc: BlockingKernelClient) -> None:
    reply, content = _error(kc, "local t = {}\nfor i = 1, 1e8 do t[i] = i end")
    assert content["ename"] == "MemoryError"
    n = reply["execution_count"]
    # Where, the limit, and how to raise it (issue 7, item 6).
    assert content["evalue"].startswith(f"not enough memory (at [cell {n}]:2); the VM's memory limit is 2 MiB")
    for hint in ("LUA_WASM_MEMORY_LIMIT", "c.LuaWasmKernel.memory_limit", "--LuaWasmKernel.memory_limit"):
        assert hint in content["evalue"]
    reply, messages = run(kc, "1 + 1")
    assert reply["content"]["status"] == "ok"


def test_interrupt_shape_and_state_is_kept(kc: BlockingKernelClient, kernel) -> None:
    km, _ = kernel
    run(kc, "kept = 'still here'")
    msg_id = kc.execute("while true do end")
    while True:  # wait until the cell runs
        msg = kc.get_iopub_msg(timeout=TIMEOUT)
        if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "execute_input":
            break
    time.sleep(0.2)
    km.interrupt_kernel()
    reply = kc.get_shell_msg(timeout=TIMEOUT)
    assert reply["parent_header"]["msg_id"] == msg_id
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    assert "interrupted" in reply["content"]["evalue"]
    drain(kc)
    reply, messages = run(kc, "kept")
    results = [m["content"]["data"]["text/plain"] for m in messages if m["msg_type"] == "execute_result"]
    assert results == ["still here"]


def test_interrupt_when_idle_does_nothing(kc: BlockingKernelClient, kernel) -> None:
    km, _ = kernel
    km.interrupt_kernel()
    time.sleep(0.2)
    reply, _ = run(kc, "'fine'")
    assert reply["content"]["status"] == "ok"


def test_execution_count_as_ipython(kc: BlockingKernelClient) -> None:
    reply, messages = run(kc, "1")
    n = reply["content"]["execution_count"]
    inputs = [m["content"]["execution_count"] for m in messages if m["msg_type"] == "execute_input"]
    results = [m["content"]["execution_count"] for m in messages if m["msg_type"] == "execute_result"]
    assert inputs == results == [n]
    # silent and store_history=False cells take no number
    reply, messages = run(kc, "2", silent=True)
    assert reply["content"]["execution_count"] == n
    assert [m["msg_type"] for m in messages] == ["status", "status"]  # busy, idle: nothing shown
    reply, messages = run(kc, "3", store_history=False)
    assert reply["content"]["execution_count"] == n
    assert [m["content"]["execution_count"] for m in messages if m["msg_type"] == "execute_input"] == [n + 1]
    # an error takes its number too
    reply, _ = run(kc, "error('x')")
    assert reply["content"]["execution_count"] == n + 1
    reply, _ = run(kc, "4")
    assert reply["content"]["execution_count"] == n + 2


def test_silent_cells_still_run(kc: BlockingKernelClient) -> None:
    run(kc, "quiet = 41", silent=True)
    reply, messages = run(kc, "quiet + 1")
    assert [m["content"]["data"]["text/plain"] for m in messages if m["msg_type"] == "execute_result"] == ["42"]


def test_complete_positions_fields_and_methods(kc: BlockingKernelClient) -> None:
    run(kc, 'greeting = "hi"; config = {server = {port = 80, host = "h"}}')

    def complete(code: str, cursor_pos: int | None = None) -> dict:
        return kc.complete(code, cursor_pos, reply=True, timeout=TIMEOUT)["content"]

    c = complete("x = config.server.po")
    assert c["matches"] == ["port"] and (c["cursor_start"], c["cursor_end"]) == (18, 20)
    c = complete("greeting:up")
    assert c["matches"] == ["upper"] and (c["cursor_start"], c["cursor_end"]) == (9, 11)
    c = complete("greeting:")
    assert {"upper", "sub", "format", "gsub"} <= set(c["matches"]) and c["cursor_start"] == 9
    c = complete("print(gree) -- done", 10)
    assert c["matches"] == ["greeting"] and (c["cursor_start"], c["cursor_end"]) == (6, 10)
    c = complete("local counter = 1\nprint(coun")
    assert c["matches"] == ["counter"]
    assert complete('s = "prin')["matches"] == []
    assert complete("-- prin")["matches"] == []
    types = {t["text"]: t["type"] for t in complete("conf")["metadata"]["_jupyter_types_experimental"]}
    assert types == {"config": "table"}


def test_inspect_standard_and_user_functions(kc: BlockingKernelClient) -> None:
    def inspect(code: str, detail_level: int = 0) -> dict:
        return kc.inspect(code, len(code), detail_level, reply=True, timeout=TIMEOUT)["content"]

    doc = inspect("string.format")
    assert doc["found"] and doc["status"] == "ok"
    assert doc["data"]["text/plain"].startswith("string.format (formatstring, ···)")
    reply, _ = run(kc, "function area(w, h)\n  return w * h\nend")
    n = reply["content"]["execution_count"]
    text = inspect("area")["data"]["text/plain"]
    assert "function area(w, h)" in text and f"[cell {n}]:1" in text and "return w * h" not in text
    text = inspect("area(2, ", detail_level=1)["data"]["text/plain"]
    assert "return w * h" in text
    assert inspect("no_such_name")["found"] is False


def test_is_complete_gives_an_indent(kc: BlockingKernelClient) -> None:
    kc.is_complete("function f()\n  if x then")
    content = kc.get_shell_msg(timeout=TIMEOUT)["content"]
    assert content == {"status": "incomplete", "indent": "    "}


def test_history_lives_in_sqlite_under_the_data_dir(kc: BlockingKernelClient) -> None:
    reply, _ = run(kc, "marker_for_history = 1")
    n = reply["content"]["execution_count"]
    content = kc.history(hist_access_type="tail", n=1, raw=True, output=False, reply=True, timeout=TIMEOUT)["content"]
    ((session, line, source),) = content["history"]
    assert (line, source) == (n, "marker_for_history = 1")
    with sqlite3.connect(history_file()) as db:
        rows = db.execute("SELECT source_raw FROM history WHERE session = ? AND line = ?", (session, line)).fetchall()
    assert rows == [("marker_for_history = 1",)]
    found = kc.history(hist_access_type="search", pattern="marker_for_*", raw=True, output=False, reply=True)
    assert [h[2] for h in found["content"]["history"]] == ["marker_for_history = 1"]


def test_restart_gives_a_fresh_state() -> None:
    use_test_kernelspec()
    km, kc = start_new_kernel(kernel_name=KERNEL_NAME, startup_timeout=TIMEOUT)
    try:
        run(kc, "before_restart = true")
        km.restart_kernel(now=True)
        kc.wait_for_ready(timeout=TIMEOUT)
        drain(kc)
        reply, messages = run(kc, "before_restart == nil")
        assert reply["content"]["execution_count"] == 1
        assert [m["content"]["data"]["text/plain"] for m in messages if m["msg_type"] == "execute_result"] == ["true"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_settings_from_kernelspec_env() -> None:
    name = add_variant(
        "lua-wasm-4m", {"LUA_WASM_MEMORY_LIMIT": "4M", "LUA_WASM_INTERRUPT_ESCALATION_DELAY": "2.5"}
    )
    km, kc = start_new_kernel(kernel_name=name, startup_timeout=TIMEOUT)
    try:
        assert "memory limit 4 MiB" in kc.kernel_info(reply=True, timeout=TIMEOUT)["content"]["banner"]
        # a 1.5 MB string fits in 4 MiB, not in the default 2 MiB (tests/test_vm.py)
        reply, _ = run(kc, "s = string.rep('x', 1500 * 1000)")
        assert reply["content"]["status"] == "ok"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


# -- internal failures (tests/fault_kernel.py injects them): every request gets its reply


@pytest.fixture(scope="module")
def faulty() -> Iterator[BlockingKernelClient]:
    from fault_kernel import fault_kernelspec

    use_test_kernelspec()
    km, kc = start_new_kernel(kernel_name=fault_kernelspec(), startup_timeout=TIMEOUT)
    try:
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


@pytest.mark.parametrize("marker", ["--fault:eval", "--fault:output"])
def test_an_internal_failure_is_an_error_reply_and_the_kernel_goes_on(faulty: BlockingKernelClient, marker: str) -> None:
    drain(faulty)
    run(faulty, "kept = 'before'")
    reply, content = _error(faulty, f"kept = 'changed' print(string.rep('x', 10)) {marker}")
    assert content["ename"] == "InternalError"
    assert content["evalue"].startswith("lua-wasm internal error: RuntimeError: injected failure")
    assert "the kernel goes on" in content["evalue"]
    if marker == "--fault:output":  # the VM had run: its state went back to before the cell
        assert "rolled back to before this cell" in content["evalue"]
    reply, messages = run(faulty, "kept")
    assert reply["content"]["status"] == "ok"
    assert [m["content"]["data"]["text/plain"] for m in messages if m["msg_type"] == "execute_result"] == ['before']


def test_a_failure_after_the_cell_ran_still_replies(faulty: BlockingKernelClient) -> None:
    drain(faulty)
    reply, content = _error(faulty, "ran = true --fault:history")
    assert content["ename"] == "InternalError" and "injected failure in the history" in content["evalue"]
    assert reply["status"] == "error"
    reply, messages = run(faulty, "ran")
    assert [m["content"]["data"]["text/plain"] for m in messages if m["msg_type"] == "execute_result"] == ["true"]


def test_a_failing_request_handler_still_replies(faulty: BlockingKernelClient) -> None:
    drain(faulty)
    code = "x = 1 --fault:request"
    replies = {
        "complete": faulty.complete(code, len(code), reply=True, timeout=TIMEOUT)["content"],
        "inspect": faulty.inspect(code, 1, reply=True, timeout=TIMEOUT)["content"],
        "is_complete": _shell_reply(faulty, faulty.is_complete(code)),
        "history": faulty.history(hist_access_type="search", pattern=code, reply=True, timeout=TIMEOUT)["content"],
    }
    assert replies["complete"]["status"] == "ok" and replies["complete"]["matches"] == []
    assert replies["inspect"] == {"status": "ok", "found": False, "data": {}, "metadata": {}}
    assert replies["is_complete"] == {"status": "unknown"}
    assert replies["history"] == {"status": "ok", "history": []}
    assert _shell_reply(faulty, faulty.is_complete("x = 1"))["status"] == "complete"


def _shell_reply(kc: BlockingKernelClient, msg_id: str) -> dict:
    reply = kc.get_shell_msg(timeout=TIMEOUT)
    assert reply["parent_header"]["msg_id"] == msg_id
    return reply["content"]


def test_a_cell_stopped_by_force_rolls_back_and_says_so() -> None:
    # A backtracking pattern match runs no Lua hook: the interrupt escalates.
    with started_kernel(LUA_WASM_INTERRUPT_ESCALATION_DELAY="0.1") as (km, kc):
        run(kc, "kept = {n = 1}")
        msg_id = kc.execute("kept.n = 2 return string.find(string.rep('a', 40), string.rep('a-', 40) .. 'b')")
        while True:  # wait until the cell runs
            msg = kc.get_iopub_msg(timeout=TIMEOUT)
            if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "execute_input":
                break
        reply = None
        while reply is None:  # interrupt until the cell ends (an early one may come before the eval)
            km.interrupt_kernel()
            try:
                reply = kc.get_shell_msg(timeout=1)
            except Empty:
                continue
        assert reply["parent_header"]["msg_id"] == msg_id
        content = reply["content"]
        assert content["status"] == "error" and content["ename"] == "VMStopped"
        assert content["evalue"].startswith("the cell was stopped by force")
        assert "the Lua state was rolled back to before this cell; external tables are not rolled back" in content["evalue"]
        drain(kc)
        reply, messages = run(kc, "kept.n")
        assert [m["content"]["data"]["text/plain"] for m in messages if m["msg_type"] == "execute_result"] == ["1"]


def test_a_tab_press_cannot_hang_the_kernel() -> None:
    """The cell replaced what completion calls with an endless loop: complete,
    inspect and is_complete each still answer (empty), after
    INTROSPECTION_TIME_MAX_SECONDS, and the cell's state is kept."""
    with started_kernel() as (_, client):
        run(client, "kept = 41; debug = setmetatable({}, {__index = function() while true do end end})")
        complete = client.complete("pri", 3, reply=True, timeout=TIMEOUT)["content"]
        assert complete["status"] == "ok" and complete["matches"] == []
        inspect = client.inspect("print", 5, reply=True, timeout=TIMEOUT)["content"]
        assert inspect["status"] == "ok"
        msg_id = client.is_complete("x = ")
        is_complete = client.get_shell_msg(timeout=TIMEOUT)
        assert is_complete["parent_header"]["msg_id"] == msg_id
        is_complete = is_complete["content"]
        assert is_complete["status"] in ("incomplete", "unknown")
        reply, messages = run(client, "kept + 1")
        assert [m["content"]["data"]["text/plain"] for m in messages if m["msg_type"] == "execute_result"] == ["42"]
