"""A hostile display does not run in the JupyterLite page: the kernel (kernel.ts,
rich_output.ts) sanitizes text/html with JupyterLab's Sanitizer, neutralizes raw
HTML in text/markdown and drops MIME types that could run script, before
JupyterLab renders the output as trusted. The site serves the very rules the
Python kernel reads (lua_wasm_kernel/rich_output.json)."""
from __future__ import annotations

from pathlib import Path

import pytest

from lua_wasm_kernel import rich_output
from test_inspect_lite import _replace_cell_code
from test_lite_browser import WAIT_MS, cell, open_notebook, output_text, run_cell, wait_for_prompt

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HOSTILE = """display.html('<b>safe</b><img class="rich-img" src="x" onerror="window.__pwned = (window.__pwned || 0) + 1"><a id="rich-js" href="javascript:window.__pwned = 100">j</a>')
display.markdown('**md** <img class="rich-img" src="y" onerror="window.__pwned = (window.__pwned || 0) + 10"> [l](javascript:window.__pwned=1000)')
display.data{['text/html'] = '<img class="rich-img" src="z" onerror="window.__pwned = 100000">', ['text/plain'] = 'img'}"""
SCRIPT_TYPE = "display.data{['application/javascript'] = 'window.__pwned = 10000', ['text/plain'] = 'js'}"


def test_site_serves_the_python_kernels_rules(lite_site: Path) -> None:
    served = lite_site / "extensions" / "@lua-wasm" / "jupyterlite-kernel" / "static" / "rich_output.json"
    assert served.read_bytes() == rich_output.RULES_PATH.read_bytes()


def test_hostile_displays_do_not_run_in_the_page(browser, site_url: str) -> None:
    context = browser.new_context()
    page = context.new_page()
    open_notebook(page, site_url)

    _replace_cell_code(page, 0, HOSTILE)
    run_cell(page, 0)
    wait_for_prompt(page, 0)
    cell(page, 0).locator(".jp-OutputArea b", has_text="safe").wait_for(timeout=WAIT_MS)
    # Every image in the output has loaded or failed (an onerror left in would have run by now).
    page.wait_for_function("el => [...el.querySelectorAll('img')].every(i => i.complete)",
                           arg=cell(page, 0).element_handle(), timeout=WAIT_MS)
    outputs = cell(page, 0).locator(".jp-OutputArea")
    assert outputs.locator("img[onerror]").count() == 0
    assert outputs.locator("a[href^='javascript']").count() == 0
    assert "md" in outputs.locator("strong").all_inner_texts()
    assert page.evaluate("() => window.__pwned") is None

    _replace_cell_code(page, 1, SCRIPT_TYPE)
    run_cell(page, 1)
    wait_for_prompt(page, 1)
    text = output_text(page, 1)
    assert "'application/javascript' is refused" in text
    assert page.evaluate("() => window.__pwned") is None
    context.close()
