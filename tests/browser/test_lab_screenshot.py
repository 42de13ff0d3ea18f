"""A Lua notebook in JupyterLab, run and photographed (screenshots/jupyterlab.png).

The picture in docs/jupyterlab.png was taken by this test; it is rewritten
under the git-ignored screenshots folder on every run, for a look by hand.
"""
from __future__ import annotations

from typing import Callable

import pytest
from playwright.sync_api import expect

from notebook_file import markdown
from notebook_page import SCREENSHOTS, STDOUT, NotebookPage

pytestmark = pytest.mark.browser

CELLS = [
    markdown("## Lua 5.4 in WebAssembly\nOne persistent Lua state, a hard memory cap, output that streams."),
    'function fib(n)\n  if n < 2 then return n end\n  return fib(n - 1) + fib(n - 2)\nend\nprint("fib(20) =", fib(20))',
    'langs = {name = "lua", versions = {5.1, 5.3, 5.4}, sandboxed = true}\nlangs',
    'local rows = {}\nfor n = 1, 5 do\n  rows[#rows + 1] = ("<tr><td>%d</td><td>%d</td><td>%d</td></tr>"):format(n, n * n, fib(n + 10))\nend\n'
    'display.html("<table><tr><th>n</th><th>n²</th><th>fib(n+10)</th></tr>" .. table.concat(rows) .. "</table>")',
    'visits = ext.table("visits")  -- kept outside the VM, saved beside the notebook\nvisits.count = (visits.count or 0) + 1\nreturn ("this notebook ran %d time(s)"):format(visits.count)',
]


def test_screenshot_of_a_lua_notebook(open_notebook: Callable[..., NotebookPage]) -> None:
    nb = open_notebook("Lua in JupyterLab.ipynb", CELLS)
    nb.run_all()
    expect(nb.output(1, STDOUT)).to_have_text("fib(20) =\t6765\n")
    expect(nb.result(2)).to_contain_text('name = "lua"')
    expect(nb.output(3, "text/html").locator("tr")).to_have_count(6)
    expect(nb.result(4)).to_contain_text("this notebook ran 1 time(s)")
    nb.menu("View", "Appearance", "Show Left Sidebar")
    expect(nb.page.locator("#jp-left-stack")).to_be_hidden()
    nb.command_mode(0)
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / "jupyterlab.png"
    nb.page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000
