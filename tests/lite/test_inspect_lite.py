"""Inspect (Shift-Tab) in the JupyterLite kernel: the tooltip shows the standard
library's docs (stdlib_docs.json, the very file the Python kernel reads, which
the site serves) and a user function's signature and place, found by
introspect.lua in the browser's VM and written by inspect.ts; and the shared
table of complete, inspect and is_complete cases, run end to end in the page."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_lite_browser import WAIT_MS, cell, open_notebook, wait_for_prompt

from lua_wasm_kernel import stdlib_docs

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CASES_PATH = Path(__file__).resolve().parents[1] / "shared" / "introspection_cases.json"


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

    # help(x) says what Shift-Tab says (the worker's describe is inspect.ts's helpText).
    page.keyboard.press("Escape")
    _replace_cell_code(page, 1, 'help("string.format")')
    page.keyboard.press("Shift+Enter")
    wait_for_prompt(page, 1)
    assert "string.format (formatstring, ···)" in cell(page, 1).locator(".jp-OutputArea").inner_text()
    context.close()


SHARED_REQUESTS = ("complete", "inspect", "is_complete")
CASES = [c for c in json.loads(CASES_PATH.read_text(encoding="utf-8"))["cases"] if c["request"] in SHARED_REQUESTS]

# Runs one case in the page through the notebook's kernel: a restart (a new VM)
# unless the previous case left no cells, the case's cells, then the request.
RUN_CASE = """async ([c, restart]) => {
  const panel = window.jupyterapp.shell.currentWidget;
  if (restart) {
    await panel.sessionContext.session.kernel.restart();
  }
  const kernel = panel.sessionContext.session.kernel;
  for (const [, code] of c.cells) {
    const reply = await kernel.requestExecute({ code, store_history: true }).done;
    if (reply.content.status !== 'ok') throw new Error('cell failed: ' + code);
  }
  let reply;
  if (c.request === 'complete') {
    reply = await kernel.requestComplete({ code: c.code, cursor_pos: c.cursor });
  } else if (c.request === 'inspect') {
    reply = await kernel.requestInspect({ code: c.code, cursor_pos: c.cursor, detail_level: c.detail_level });
  } else {
    reply = await kernel.requestIsComplete({ code: c.code });
  }
  return reply.content;
}"""


def _exposing_the_app(context) -> None:
    """Serves jupyter-lite.json with exposeAppInBrowser, so the page can reach the notebook's kernel."""

    def handle(route) -> None:
        response = route.fetch()
        config = response.json()
        config.setdefault("jupyter-config-data", {})["exposeAppInBrowser"] = "true"
        route.fulfill(response=response, json=config)

    context.route("**/jupyter-lite.json", handle)


def test_shared_cases_in_the_browsers_vm(browser, site_url: str) -> None:
    """tests/shared/introspection_cases.json's complete, inspect and is_complete
    cases through the browser kernel end to end (worker, real lua.wasm):
    the same replies as the Python kernel's."""
    context = browser.new_context()
    _exposing_the_app(context)
    page = context.new_page()
    open_notebook(page, site_url)
    page.wait_for_function("() => window.jupyterapp?.shell.currentWidget?.sessionContext?.session?.kernel", timeout=WAIT_MS)
    assert len(CASES) > 50, "the shared table lost its cases"
    dirty = True
    mismatches = []
    for case in CASES:
        got = page.evaluate(RUN_CASE, [case, dirty or bool(case["cells"])])
        dirty = bool(case["cells"])
        if got != case["reply"]:
            mismatches.append((case["request"], case["name"], got, case["reply"]))
    context.close()
    assert mismatches == []
