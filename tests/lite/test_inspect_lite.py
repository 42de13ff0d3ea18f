"""Inspect (Shift-Tab) in the JupyterLite kernel: the tooltip shows the standard
library's docs (stdlib_docs.json, the very file the Python kernel reads, which
the site serves) and a user function's signature and place, found by
introspect.lua in the browser's VM and written by inspect.ts."""
from __future__ import annotations

from pathlib import Path

import pytest
from test_lite_browser import WAIT_MS, cell, open_notebook, wait_for_prompt

from lua_wasm_kernel import stdlib_docs

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.mark.usefixtures("browser")
def test_site_serves_the_python_kernels_stdlib_docs(lite_site: Path) -> None:
    served = lite_site / "extensions" / "@lua-wasm" / "jupyterlite-kernel" / "static" / "stdlib_docs.json"
    assert served.read_bytes() == stdlib_docs.DOCS_PATH.read_bytes()


def _replace_cell_code(page, index: int, code: str) -> None:
    """The cell's code becomes `code`, the cursor at its end (inserted as text: no auto-closed brackets)."""
    cell(page, index).locator(".cm-content").click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(code)


def _tooltip_after_shift_tab(page) -> str:
    page.keyboard.press("Shift+Tab")
    tooltip = page.locator(".jp-Tooltip")
    tooltip.wait_for(timeout=WAIT_MS)
    text = tooltip.inner_text()
    page.keyboard.press("Escape")
    tooltip.wait_for(state="detached", timeout=WAIT_MS)
    return text


def test_shift_tab_shows_stdlib_docs_and_user_signatures(browser, site_url: str) -> None:
    context = browser.new_context()
    page = context.new_page()
    open_notebook(page, site_url)

    _replace_cell_code(page, 0, "function area(w, h, ...)\n  return w * h\nend")
    page.keyboard.press("Shift+Enter")
    wait_for_prompt(page, 0)

    _replace_cell_code(page, 1, "string.format")
    text = _tooltip_after_shift_tab(page)
    assert "string.format (formatstring, ···)" in text
    assert "Formats its arguments" in text

    _replace_cell_code(page, 1, "x = area(2, ")
    text = _tooltip_after_shift_tab(page)
    assert "function area(w, h, ...)" in text
    assert "Defined at [cell 1]:1-3" in text
    context.close()
