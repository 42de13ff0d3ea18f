"""A hostile display in real JupyterLab: the Python kernel sanitizes it
(rich_output.py) before JupyterLab renders it as trusted output, so its script
does not run in the page (which holds the server's token)."""
from __future__ import annotations

from typing import Callable

import pytest
from playwright.sync_api import expect

from notebook_page import NotebookPage

pytestmark = pytest.mark.browser

OpenNotebook = Callable[..., NotebookPage]

HOSTILE = """display.html('<b>safe</b><img src="x" onerror="window.__pwned = 1">')
display.markdown('**md** <img src="y" onerror="window.__pwned = 2"> [l](javascript:window.__pwned=3)')"""


def test_hostile_display_does_not_run_in_jupyterlab(open_notebook: OpenNotebook) -> None:
    nb = open_notebook("hostile.ipynb", [HOSTILE])
    nb.run(0)
    nb.wait_done(0)
    outputs = nb.outputs(0)
    expect(outputs.locator("b", has_text="safe")).to_be_visible()
    expect(outputs.locator("strong", has_text="md")).to_be_visible()
    # Every image has loaded or failed: an onerror left in would have run by now.
    nb.page.wait_for_function("el => [...el.querySelectorAll('img')].every(i => i.complete)",
                              arg=nb.cell(0).element_handle())
    assert outputs.locator("img[onerror]").count() == 0
    assert outputs.locator("a[href^='javascript']").count() == 0
    assert nb.page.evaluate("() => window.__pwned") is None
