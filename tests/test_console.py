"""`jupyter console --kernel lua-wasm` in a real terminal (pexpect): a
multi-line function through is_complete, output, an error, Ctrl-C on an
endless loop, then exit."""
from __future__ import annotations

import os
import sys
import time

import pexpect
import pytest

from kernel_env import KERNEL_NAME, use_test_kernelspec
from lua_wasm_kernel.vm import LuaVM

# prompt_toolkit colours the prompts: allow escape sequences anywhere in them.
ESC = r"(?:\x1b\[[0-9;?]*[A-Za-z])*"


def prompt_in(n: int) -> str:
    return rf"In {ESC}\[{ESC}{n}{ESC}\]{ESC}: "


def prompt_out(n: int) -> str:
    return rf"Out{ESC}\[{ESC}{n}{ESC}\]{ESC}: {ESC}"


CONTINUATION = r"\.\.\.: "


def spawn_console(**env: str) -> pexpect.spawn:
    use_test_kernelspec()
    # `python -m jupyter_console` is `jupyter console`, with this interpreter.
    return pexpect.spawn(
        sys.executable,
        ["-m", "jupyter_console", "--kernel", KERNEL_NAME, "--no-confirm-exit"],
        env={**os.environ, "TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1", **env},
        encoding="utf-8",
        timeout=60,
        dimensions=(40, 120),
    )


@pytest.fixture
def console():
    child = spawn_console()
    yield child
    if child.isalive():
        child.terminate(force=True)


@pytest.fixture
def dedenting_console(tmp_path):
    """A console whose jupyter_console_config.py installs lua_wasm_kernel.console_dedent, as the README says."""
    (tmp_path / "jupyter_console_config.py").write_text(
        "from lua_wasm_kernel.console_dedent import install\ninstall()\n", encoding="utf-8"
    )
    child = spawn_console(JUPYTER_CONFIG_DIR=str(tmp_path))
    yield child
    if child.isalive():
        child.terminate(force=True)


def test_console_session(console: pexpect.spawn) -> None:
    c = console
    c.expect("Lua 5.4.8 in WebAssembly")
    c.expect(prompt_in(1))

    # A multi-line definition: each Enter asks is_complete, which says "incomplete".
    c.send("function add(a, b)\r")
    c.expect(CONTINUATION)
    c.send("return a + b\r")  # the console inserts the two-space indent itself
    c.expect(CONTINUATION)
    c.send("end\r")
    c.expect(prompt_in(2))

    c.send("add(2, 3)\r")
    c.expect(prompt_out(2) + "5")
    c.expect(prompt_in(3))

    c.send('print("hello " .. "console")\r')
    c.expect("hello console")
    c.expect(prompt_in(4))

    c.send('error("boom")\r')
    c.expect(r"\[cell 4\]:1: boom")
    c.expect("stack traceback")
    c.expect(prompt_in(5))

    if hasattr(LuaVM, "interrupt"):
        c.send("while true do end\r")
        time.sleep(1.0)  # let the loop start
        c.sendintr()
        c.expect("interrupted")
        c.expect(prompt_in(6))
        c.send("add(20, 22)\r")  # the state survived the interrupt
        c.expect(prompt_out(6) + "42")
        c.expect(prompt_in(7))

    c.sendeof()
    c.expect("Shutting down kernel")
    c.expect(pexpect.EOF)
    c.close()
    assert c.exitstatus == 0


def test_end_on_its_own_line_is_dedented(dedenting_console: pexpect.spawn) -> None:
    c = dedenting_console
    c.expect(prompt_in(1))
    c.send("function sign(x)\r")
    c.expect(CONTINUATION)
    c.send("if x < 0 then\r")  # the console indents the body: "  if"
    c.expect(CONTINUATION)
    c.send("return -1\r")  # "    return -1"
    c.expect(CONTINUATION)
    c.send("end\r")  # typed after the body's four spaces, moved back to the if's two
    c.expect(CONTINUATION + ESC + "  " + ESC + "end")
    c.expect(CONTINUATION)
    c.send("return 1\r")
    c.expect(CONTINUATION)
    c.send("end\r")  # back to column 0, and the cell is complete
    c.expect(CONTINUATION + ESC + "end")
    c.expect(prompt_in(2))
    c.send("sign(-5), sign(3)\r")
    c.expect(prompt_out(2) + r"-1\t1")
    c.expect(prompt_in(3))
    c.sendeof()
    c.expect("Shutting down kernel")
    c.expect(pexpect.EOF)
