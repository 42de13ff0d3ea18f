"""A Lua notebook's cells in JupyterLab: highlighting, results, errors, streaming, rich output, input."""
from __future__ import annotations

import re
from typing import Callable

import pytest
from playwright.sync_api import expect

from notebook_page import STDERR, STDOUT, NotebookPage

pytestmark = pytest.mark.browser

OpenNotebook = Callable[..., NotebookPage]


def token_color(nb: NotebookPage, text: str) -> str:
    span = nb.editor(0).locator("span", has_text=re.compile(f"^{re.escape(text)}$")).first
    return span.evaluate("e => getComputedStyle(e).color")


def theme_color(nb: NotebookPage, variable: str) -> str:
    """The color a CSS variable of JupyterLab's editor theme resolves to."""
    return nb.page.evaluate(
        """v => { const e = document.createElement('span'); e.style.color = `var(${v})`;
                  document.body.appendChild(e); const c = getComputedStyle(e).color; e.remove(); return c; }""",
        variable,
    )


def test_lua_syntax_highlighting(open_notebook: OpenNotebook) -> None:
    nb = open_notebook("highlight.ipynb", ['local s = "text" -- note\nfor i = 1, 10 do end'])
    expect(nb.editor(0)).to_have_attribute("data-language", "lua")
    expected = {
        "local": "--jp-mirror-editor-keyword-color",
        "for": "--jp-mirror-editor-keyword-color",
        '"text"': "--jp-mirror-editor-string-color",
        "-- note": "--jp-mirror-editor-comment-color",
        "10": "--jp-mirror-editor-number-color",
    }
    for token, variable in expected.items():
        assert token_color(nb, token) == theme_color(nb, variable), token
    # A name is not a keyword: the tokens are told apart.
    assert token_color(nb, "local") != token_color(nb, '"text"') != token_color(nb, "-- note")


def test_stream_and_execute_result(open_notebook: OpenNotebook) -> None:
    nb = open_notebook("results.ipynb", ['print("hello", 1 + 1)\nreturn {1, 2, x = "y"}'])
    nb.run(0)
    nb.wait_done(0)
    expect(nb.output(0, STDOUT)).to_have_text("hello\t2\n")
    expect(nb.result(0)).to_have_text('{1, 2, x = "y"}')
    expect(nb.cell(0).locator(".jp-OutputArea-executeResult .jp-OutputPrompt")).to_have_text(
        nb.prompt(0).inner_text()
    )


def test_error_shows_its_traceback(open_notebook: OpenNotebook) -> None:
    nb = open_notebook("error.ipynb", ['x = 1\nlocal function f()\n  error("boom")\nend\nf()'])
    nb.run(0)
    nb.wait_done(0)
    error = nb.output(0, STDERR)
    expect(error).to_contain_text("boom")
    expect(error).to_contain_text("[cell 1]:3")
    expect(nb.result(0)).to_have_count(0)
    expect(nb.execute(1, "x")).to_have_text("1")


def test_output_streams_while_the_cell_runs(open_notebook: OpenNotebook) -> None:
    nb = open_notebook(
        "stream.ipynb",
        ['print("before")\nlocal t = os.clock()\nwhile os.clock() - t < 2 do end\nprint("after")'],
    )
    nb.run(0)
    expect(nb.output(0, STDOUT)).to_have_text("before\n")
    # Seen while the cell still runs: its prompt is still [*], "after" not yet there.
    assert nb.prompt(0).inner_text() == "[*]:"
    assert "after" not in nb.output(0, STDOUT).inner_text()
    nb.wait_done(0)
    expect(nb.output(0, STDOUT)).to_have_text("before\nafter\n")


def test_stop_button_interrupts_an_endless_loop(open_notebook: OpenNotebook) -> None:
    nb = open_notebook("interrupt.ipynb", ["kept = 42", "while true do end", "kept"])
    nb.run(0)
    nb.wait_done(0)
    nb.run(1)
    nb.wait_running(1)
    expect(nb.page.locator(".jp-StatusBar-TextItem", has_text="| Busy")).to_have_count(1)
    nb.toolbar_button("notebook:interrupt-kernel").click()
    nb.wait_done(1, timeout=2_000)
    expect(nb.output(1, STDERR)).to_contain_text("interrupt")
    nb.run(2)
    nb.wait_done(2)
    expect(nb.result(2)).to_have_text("42")


def test_tab_completes_string_fo(open_notebook: OpenNotebook) -> None:
    nb = open_notebook("complete.ipynb", [""])
    nb.type_source(0, "string.fo")
    nb.page.keyboard.press("Tab")
    items = nb.page.locator(".jp-Completer .jp-Completer-item")
    expect(items).to_have_count(1)
    expect(items.first.locator(".jp-Completer-match")).to_have_text("format")
    expect(items.first.locator(".jp-Completer-typeExtended")).to_have_text("function")
    nb.page.keyboard.press("Enter")
    expect(nb.editor(0)).to_have_text("string.format")


def test_display_html_is_rendered(open_notebook: OpenNotebook) -> None:
    nb = open_notebook("html.ipynb", ['display.html("<b id=\\"lua-bold\\">bold</b> <i>from Lua</i>")'])
    nb.run(0)
    nb.wait_done(0)
    html = nb.output(0, "text/html")
    expect(html.locator("b")).to_have_text("bold")  # its id is dropped (rich_output.json)
    expect(html.locator("i")).to_have_text("from Lua")
    assert html.locator("b").evaluate("e => getComputedStyle(e).fontWeight") in ("700", "bold")


def test_io_read_is_answered_through_the_input_box(open_notebook: OpenNotebook) -> None:
    nb = open_notebook("input.ipynb", ['io.write("Name? ")\nlocal name = io.read()\nreturn "hello " .. name'])
    nb.run(0)
    box = nb.cell(0).locator("input.jp-Stdin-input")
    expect(box).to_be_visible()
    expect(nb.output(0, STDOUT)).to_have_text("Name? ")
    box.fill("Lua")
    box.press("Enter")
    nb.wait_done(0)
    expect(nb.result(0)).to_have_text("hello Lua")
    expect(box).to_have_count(0)
