"""The JupyterLite kernel in a browser: a site built offline with the
extension, served on 127.0.0.1 and driven in Debian's chromium. The notebook
(conftest.make_notebook) runs cell by cell: streamed output, a traceback, rich
display, an external table kept in IndexedDB across a page reload, an
interrupt that keeps the state, the memory cap's clean error."""
from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WAIT_MS = 60_000
RUN_PRESSES_MAX = 3
RUN_PRESS_WAIT_MS = 5_000


CONSOLE_LINES_SHOWN = 30
_console: dict[int, list[str]] = {}  # per page: what its console printed, for a failure's message


def open_notebook(page, site_url: str, name: str = "lite_test.ipynb") -> None:
    lines = _console.setdefault(id(page), [])
    page.on("console", lambda message: lines.append(f"{message.type}: {message.text}"))
    page.goto(f"{site_url}/notebooks/index.html?path={name}")
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=WAIT_MS)
    # The kernel is idle once it answered kernel_info: the indicator says so.
    page.wait_for_function(
        "() => { const s = document.querySelector('.jp-Notebook-ExecutionIndicator');"
        " return s && /idle/i.test(s.getAttribute('data-status') || s.title || ''); }",
        timeout=WAIT_MS,
    )


def cell(page, index: int):
    return page.locator(".jp-Notebook .jp-Cell").nth(index)


def run_cell(page, index: int) -> None:
    """Selects the cell and presses Shift+Enter until its prompt has changed at all:
    JupyterLab shows [*] as it sends the cell, so a prompt never touched means the key
    press went nowhere (the notebook did not have the focus yet) and pressing again is
    safe. A MutationObserver sees the [*] even when the cell ends within one frame with
    the count it had before (a re-run after a restart), which polling the text missed."""
    prompt = cell(page, index).locator(".jp-InputArea-prompt")
    prompt.click()  # waits until the cell is rendered (the notebook renders cells in view)
    prompt.evaluate(
        "(p) => { window.__lwPromptTouched = false;"
        " if (window.__lwPromptObserver) window.__lwPromptObserver.disconnect();"
        " window.__lwPromptObserver = new MutationObserver(() => { window.__lwPromptTouched = true; });"
        " window.__lwPromptObserver.observe(p, {characterData: true, childList: true, subtree: true}); }"
    )
    for _ in range(RUN_PRESSES_MAX):
        prompt.click()
        page.keyboard.press("Shift+Enter")
        try:
            page.wait_for_function("() => window.__lwPromptTouched", timeout=RUN_PRESS_WAIT_MS)
            page.evaluate("() => window.__lwPromptObserver.disconnect()")
            return
        except PlaywrightTimeout:
            continue
    raise AssertionError(f"cell {index} did not start after {RUN_PRESSES_MAX} presses of Shift+Enter")


def wait_for_prompt(page, index: int) -> None:
    """Until the cell has an execution count: it finished. On a timeout, says what the page shows."""
    prompt = cell(page, index).locator(".jp-InputArea-prompt")
    try:
        prompt.filter(has_text=re.compile(r"\[\d+\]")).wait_for(timeout=WAIT_MS)
    except PlaywrightTimeout:
        status = page.evaluate(
            "() => { const s = document.querySelector('.jp-Notebook-ExecutionIndicator');"
            " return s ? (s.getAttribute('data-status') || s.title || '') : 'no indicator'; }"
        )
        raise AssertionError(
            f"cell {index} did not finish in {WAIT_MS // 1000} s: prompt {prompt.inner_text()!r}, "
            f"kernel {status!r}, output {output_text(page, index)[-500:]!r}; the page's console "
            "(the kernel's lines and errors, the last ones):\n"
            + "\n".join([line for line in _console.get(id(page), [])
                          if "lua-wasm" in line or line.startswith("error")][-CONSOLE_LINES_SHOWN:])
        ) from None


def output_text(page, index: int) -> str:
    return cell(page, index).locator(".jp-OutputArea").inner_text()


def test_cells_stream_fail_display_and_keep_tables(browser, site_url: str) -> None:
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    open_notebook(page, site_url)

    run_cell(page, 0)
    wait_for_prompt(page, 0)
    assert "streamed line" in output_text(page, 0)
    assert "42" in output_text(page, 0)

    run_cell(page, 1)
    wait_for_prompt(page, 1)
    text = output_text(page, 1)
    assert "[cell 2]:1: boom" in text
    assert "stack traceback" in text

    run_cell(page, 2)
    bold = cell(page, 2).locator(".jp-OutputArea b")  # its id is dropped (rich_output.json)
    bold.wait_for(timeout=WAIT_MS)
    assert bold.inner_text() == "bold from Lua"

    run_cell(page, 3)
    wait_for_prompt(page, 3)
    assert output_text(page, 3).strip().endswith("1")

    # A reload starts a new kernel: the table comes back from IndexedDB.
    page.reload()
    open_notebook(page, site_url)
    run_cell(page, 3)
    wait_for_prompt(page, 3)
    assert output_text(page, 3).strip().endswith("2")
    assert errors == []
    context.close()


def test_interrupt_keeps_state_and_memory_cap(browser, plain_site_url: str) -> None:
    """Not cross-origin isolated: the stop restarts the VM from the cell's start
    (test_lite_isolation.py stops it in place on the isolated site)."""
    context = browser.new_context()
    page = context.new_page()
    open_notebook(page, plain_site_url)
    run_cell(page, 0)
    wait_for_prompt(page, 0)

    # 70,000 bytes fill the 64 KiB output ring: they reach the page while the loop still runs.
    run_cell(page, 4)
    cell(page, 4).locator(".jp-OutputArea").filter(has_text="=" * 1000).wait_for(timeout=WAIT_MS)
    assert cell(page, 4).locator(".jp-InputArea-prompt").inner_text().strip() == "[*]:"
    page.locator("[data-command='notebook:interrupt-kernel']").first.click()
    wait_for_prompt(page, 4)
    text = output_text(page, 4)
    assert "interrupted!" in text
    assert "rolled back to before this cell" in text

    run_cell(page, 5)  # return x: the state of before the interrupted cell
    wait_for_prompt(page, 5)
    assert output_text(page, 5).strip().endswith("41")

    run_cell(page, 6)  # ten million integers do not fit in 2 MiB
    wait_for_prompt(page, 6)
    text = output_text(page, 6)
    assert "not enough memory" in text
    assert "memory limit is 2097152 bytes" in text
    context.close()


def _saved_text(output: dict) -> str:
    """What the page shows for one saved output of the Python kernel (an image: nothing)."""
    if output["output_type"] == "stream":
        return "".join(output["text"])
    if output["output_type"] == "error":
        return "\n".join(output["traceback"])
    data = output.get("data", {})
    if "image/svg+xml" in data or "image/png" in data:
        return ""
    if "text/html" in data:
        return html.unescape(re.sub(r"<[^>]+>", "", "".join(data["text/html"])))
    if "text/markdown" in data:
        return "".join(data["text/markdown"]).replace("*", "")
    return "".join(data.get("text/plain", ""))


def _normalized(text: str) -> str:
    """As notebooks/sanitize.cfg does for nbval; whitespace is the renderer's."""
    text = re.sub(r"^\[\d+\]:$", "", text, flags=re.M)  # the execute_result's prompt
    text = re.sub(r"(table|function|thread|userdata): 0x[0-9a-f]+", r"\1: ADDRESS", text)
    return re.sub(r"\s+", "", text)


EXAMPLES = sorted(p.name for p in (Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_notebook_matches_the_python_kernels_outputs(browser, site_url: str, name: str) -> None:
    """Every code cell of an example notebook, run in the browser, shows what
    the Python kernel saved: one module, two hosts, the same answers."""
    notebook = json.loads((Path(__file__).resolve().parents[2] / "notebooks" / name).read_text())
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    context = browser.new_context()
    page = context.new_page()
    open_notebook(page, site_url, name)
    cells = page.locator(".jp-Notebook .jp-Cell.jp-CodeCell")
    cells.nth(len(code) - 1).wait_for(timeout=WAIT_MS)
    assert cells.count() == len(code)
    for i, saved in enumerate(code):
        target = cells.nth(i)
        target.locator(".jp-InputArea-prompt").click()
        page.keyboard.press("Shift+Enter")
        target.locator(".jp-InputArea-prompt").filter(has_text=re.compile(r"\[\d+\]")).wait_for(timeout=WAIT_MS)
        if saved["outputs"]:
            target.locator(".jp-OutputArea-output").first.wait_for(timeout=WAIT_MS)
        if "nbval-ignore-output" in saved["metadata"].get("tags", []):
            continue
        for output in saved["outputs"]:
            if "image/svg+xml" in output.get("data", {}):
                assert target.locator(".jp-OutputArea-output svg, .jp-OutputArea-output img").count() > 0
        want = _normalized(" ".join(_saved_text(o) for o in saved["outputs"]))
        got = _normalized(target.locator(".jp-OutputArea").inner_text())
        assert got == want, f"cell {i}: {''.join(saved['source'])!r}"
    context.close()


def test_completion_comes_from_the_vm(browser, site_url: str) -> None:
    """Tab after `string.fo` offers `format`, found by introspect.lua in the VM;
    a global the notebook defined is offered too."""
    context = browser.new_context()
    page = context.new_page()
    open_notebook(page, site_url)
    run_cell(page, 0)  # x = 41
    wait_for_prompt(page, 0)
    editor = cell(page, 5).locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\nstring.fo")
    page.keyboard.press("Tab")
    page.locator(".jp-Completer-item", has_text="format").first.wait_for(timeout=WAIT_MS)
    page.keyboard.press("Escape")
    context.close()


def _with_memory_limit(context, limit: object) -> None:
    """Serves every jupyter-lite.json with `luaWasmMemoryLimit` set, as a site's own would."""

    def handle(route) -> None:
        response = route.fetch()
        config = response.json()
        config.setdefault("jupyter-config-data", {})["luaWasmMemoryLimit"] = limit
        route.fulfill(response=response, json=config)

    context.route("**/jupyter-lite.json", handle)


def test_memory_limit_is_configurable_and_checked(browser, site_url: str) -> None:
    context = browser.new_context(service_workers="block")
    _with_memory_limit(context, 4 * 1024 * 1024)
    page = context.new_page()
    open_notebook(page, site_url)
    editor = cell(page, 5).locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.type("return wasm.memory().limit")
    page.keyboard.press("Shift+Enter")
    wait_for_prompt(page, 5)
    assert output_text(page, 5).strip().endswith("4194304")
    context.close()

    context = browser.new_context(service_workers="block")
    _with_memory_limit(context, 1000)  # not a multiple of 64 KiB: every cell says why
    page = context.new_page()
    open_notebook(page, site_url)
    run_cell(page, 0)
    wait_for_prompt(page, 0)
    text = output_text(page, 0)
    assert "the Lua VM could not start" in text
    assert "multiple of 64 KiB" in text
    context.close()


def test_require_reads_the_sites_files(browser, site_url: str) -> None:
    context = browser.new_context()
    page = context.new_page()
    open_notebook(page, site_url)
    run_cell(page, 7)
    wait_for_prompt(page, 7)
    assert "hi from a site module" in output_text(page, 7)
    run_cell(page, 8)
    wait_for_prompt(page, 8)
    text = output_text(page, 8)
    assert "module 'lib.absent' not found" in text
    assert "no file './lib/absent.lua'" in text
    context.close()


def test_external_table_survives_a_kernel_restart(browser, site_url: str) -> None:
    context = browser.new_context()
    page = context.new_page()
    open_notebook(page, site_url)
    run_cell(page, 0)  # x = 41
    wait_for_prompt(page, 0)
    run_cell(page, 3)
    wait_for_prompt(page, 3)
    assert output_text(page, 3).strip().endswith("1")
    page.locator("[data-command='notebook:restart-kernel']").first.click()
    page.locator(".jp-Dialog .jp-mod-accept").click()
    # A fresh Lua state (x is gone), the table back from IndexedDB.
    run_cell(page, 5)  # return x
    wait_for_prompt(page, 5)
    assert output_text(page, 5).strip().endswith("nil")
    run_cell(page, 3)
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-Notebook .jp-Cell')[3]"
        ".querySelector('.jp-OutputArea').innerText.trim().endsWith('2')",
        timeout=WAIT_MS,
    )
    context.close()
