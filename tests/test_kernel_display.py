"""display, clear_output, update_display_data, the pager, stdin and require
through the real kernel and the Jupyter protocol, as a frontend sees them."""
from __future__ import annotations

import os
import queue
import time
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import KernelManager

from kernel_env import KERNEL_NAME, use_test_kernelspec

TIMEOUT_SECONDS = 30


class Frontend:
    """One kernel and a blocking client; `run` executes a cell and collects what it sent."""

    def __init__(self, **start: Any) -> None:
        use_test_kernelspec()
        self.km = KernelManager(kernel_name=KERNEL_NAME)
        self.km.start_kernel(**start)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=TIMEOUT_SECONDS)

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)

    def run(self, code: str, *, allow_stdin: bool = False, answers: list[str] | None = None,
            on_input=None, silent: bool = False) -> tuple[dict, list[dict], list[dict]]:
        """(execute_reply content, iopub messages of the cell, input_requests seen)."""
        msg_id = self.kc.execute(code, allow_stdin=allow_stdin, silent=silent)
        answers = list(answers or [])
        requests: list[dict] = []
        reply = None
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while reply is None:
            assert time.monotonic() < deadline, "no execute_reply"
            if allow_stdin:
                try:
                    msg = self.kc.get_stdin_msg(timeout=0.05)
                except queue.Empty:
                    pass
                else:
                    requests.append(msg["content"])
                    if on_input is not None:
                        on_input(self)
                    else:
                        self.kc.input(answers.pop(0))
            try:
                msg = self.kc.get_shell_msg(timeout=0.05)
            except queue.Empty:
                continue
            if msg["parent_header"].get("msg_id") == msg_id:
                reply = msg["content"]
        return reply, self._iopub(msg_id), requests

    def _iopub(self, msg_id: str) -> list[dict]:
        """The cell's IOPub messages up to its idle status (without status/execute_input)."""
        out = []
        while True:
            msg = self.kc.get_iopub_msg(timeout=TIMEOUT_SECONDS)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind = msg["msg_type"]
            if kind == "status":
                if msg["content"]["execution_state"] == "idle":
                    return out
                continue
            if kind != "execute_input":
                out.append({"msg_type": kind, **msg["content"]})


@pytest.fixture(scope="module")
def frontend():
    f = Frontend()
    yield f
    f.close()


def test_display_data_in_order_with_print(frontend: Frontend) -> None:
    reply, out, _ = frontend.run("print('a') display.html('<b>x</b>') display.markdown('*y*') print('b')")
    assert reply["status"] == "ok"
    assert [m["msg_type"] for m in out] == ["stream", "display_data", "display_data", "stream"]
    assert out[0]["text"] == "a\n" and out[3]["text"] == "b\n"
    assert out[1]["data"] == {"text/html": "<b>x</b>", "text/plain": "[HTML]"}
    assert out[2]["data"]["text/markdown"] == "*y*"


def test_json_and_png(frontend: Frontend) -> None:
    _, out, _ = frontend.run("display.json({name = 'lua', list = {1, 2}}) display.png('\\137PNG\\r\\n')")
    assert out[0]["data"]["application/json"] == {"name": "lua", "list": [1, 2]}
    assert out[1]["data"]["image/png"] == "iVBORw0K"


def test_display_id_and_update(frontend: Frontend) -> None:
    reply, out, _ = frontend.run("h = display.html('first', {id = 'progress'});")
    assert reply["status"] == "ok"
    assert out == [{"msg_type": "display_data", "data": {"text/html": "first", "text/plain": "[HTML]"},
                    "metadata": {}, "transient": {"display_id": "progress"}}]
    _, out, _ = frontend.run("h:update('second') display.update('progress', 'third')")
    assert [(m["msg_type"], m["transient"]["display_id"], m["data"]["text/html"]) for m in out] == [
        ("update_display_data", "progress", "second"),
        ("update_display_data", "progress", "third"),
    ]


def test_clear_output(frontend: Frontend) -> None:
    _, out, _ = frontend.run("print('x') display.clear(true) display.clear()")
    assert out[1:] == [{"msg_type": "clear_output", "wait": True}, {"msg_type": "clear_output", "wait": False}]


def page_text(frontend: Frontend, code: str) -> str:
    reply, out, _ = frontend.run(code)
    assert reply["status"] == "ok" and out == [], reply
    (page,) = reply["payload"]
    assert page["source"] == "page" and page["start"] == 0
    return page["data"]["text/plain"]


def shift_tab(frontend: Frontend, code: str) -> str:
    """What inspect_request (Shift-Tab, detail level 0) shows for the name at the end of `code`."""
    msg_id = frontend.kc.inspect(code, len(code), 0)
    while True:
        reply = frontend.kc.get_shell_msg(timeout=TIMEOUT_SECONDS)
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    assert reply["content"]["found"], reply["content"]
    return reply["content"]["data"]["text/plain"]


def test_help_uses_the_pager_payload(frontend: Frontend) -> None:
    assert "string.format (formatstring, ···)" in page_text(frontend, "help(string.format)")
    reply, _, _ = frontend.run("display.page('text for the pager')")
    assert reply["payload"] == [{"source": "page", "data": {"text/plain": "text for the pager"}, "start": 0}]
    reply, _, _ = frontend.run("1 + 1")
    assert reply["payload"] == []


def test_help_says_what_shift_tab_says(frontend: Frontend) -> None:
    frontend.run("function area(w, h) return w * h end  pi2 = math.pi * 2  fmt = string.format")
    for name in ("string.format", "print", "math.pi", "area", "pi2", "fmt", "io.stdout:write"):
        expected = shift_tab(frontend, name)
        assert page_text(frontend, f"help({name!r})") == expected, name
    for value in ("string.format", "area", "pi2"):
        assert page_text(frontend, f"help({value})") == shift_tab(frontend, value), value


def test_help_of_a_user_function_does_not_link_to_the_manual(frontend: Frontend) -> None:
    frontend.run("function f(a, b) return a end  saved_select = select  function select(n) return n end")
    try:
        for name in ("f", "select"):
            text = page_text(frontend, f"help({name})")
            assert text.startswith(f"function {name}(") and "Defined at [cell " in text, text
            assert "manual" not in text, text
    finally:
        frontend.run("select = saved_select")  # the engine's Lua modules call select


def test_help_of_nil_explains_itself(frontend: Frontend) -> None:
    text = page_text(frontend, "help(undefined_name)")
    assert text != "nil: nil" and 'help("string.format")' in text, text
    assert page_text(frontend, 'help("no.such.name")') == "no.such.name is nil: nothing has that name."


def test_silent_cells_display_nothing(frontend: Frontend) -> None:
    reply, out, _ = frontend.run("display.html('x') help()", silent=True)
    assert reply["status"] == "ok" and out == [] and reply["payload"] == []


def test_io_read_sends_input_requests(frontend: Frontend) -> None:
    code = "io.write('Name? ') local name = io.read() local n = io.read('n') print('Hi ' .. name, n * 2)"
    reply, out, requests = frontend.run(code, allow_stdin=True, answers=["Ada", "21"])
    assert reply["status"] == "ok", reply
    assert requests == [{"prompt": "", "password": False}] * 2
    assert "".join(m["text"] for m in out if m["msg_type"] == "stream") == "Name? Hi Ada\t42\n"


def test_input_left_unread_is_not_read_by_the_next_cell(frontend: Frontend) -> None:
    reply, _, _ = frontend.run("n = io.read('n')", allow_stdin=True, answers=["5 left over"])
    assert reply["status"] == "ok"
    reply, out, requests = frontend.run("io.read()", allow_stdin=True, answers=["fresh"])
    assert len(requests) == 1 and out[0]["data"]["text/plain"] == "fresh"


def test_io_read_without_stdin_is_a_clear_error(frontend: Frontend) -> None:
    reply, out, requests = frontend.run("local line = io.read()")
    assert reply["status"] == "error" and requests == []
    assert reply["evalue"].endswith("io.read: this frontend does not allow input")
    assert out[-1]["msg_type"] == "error"


def test_interrupt_while_waiting_for_input(frontend: Frontend) -> None:
    reply, _, requests = frontend.run("x = io.read()", allow_stdin=True,
                                      on_input=lambda f: f.km.interrupt_kernel())
    assert len(requests) == 1
    assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt"
    reply, out, _ = frontend.run("print('alive')")
    assert reply["status"] == "ok" and out[0]["text"] == "alive\n"


def test_require_from_the_notebook_folder(tmp_path: Path) -> None:
    notebook_dir = tmp_path / "project"
    (notebook_dir / "lib").mkdir(parents=True)
    (notebook_dir / "lib" / "util.lua").write_text("return {answer = 42}")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    (elsewhere / "decoy.lua").write_text("return 'from the working directory'")
    env = dict(os.environ, JPY_SESSION_NAME=str(notebook_dir / "analysis.ipynb"))
    f = Frontend(env=env, cwd=str(elsewhere))
    try:
        reply, out, _ = f.run("require('lib.util').answer")
        assert reply["status"] == "ok", reply
        assert out[0]["data"]["text/plain"] == "42"
        reply, _, _ = f.run("require 'decoy'")
        assert reply["status"] == "error"
        assert "no file './decoy.lua'" in reply["evalue"]
    finally:
        f.close()
