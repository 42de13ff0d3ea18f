"""The browser kernel with and without cross-origin isolation. Isolated (the
site sent with COOP/COEP, conftest.site_url), the VM's memory is shared with
the page: the stop button stops a cell in place with every change it made
kept, output streams while a cell computes, and io.read waits for the input
box. Not isolated (conftest.plain_site_url), the stop button restarts the VM
from the cell's start and io.read says which headers are missing."""
from __future__ import annotations

import re

import pytest

from test_lite_browser import WAIT_MS, cell, open_notebook, output_text, run_cell, wait_for_prompt

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# conftest.make_notebook's cells
SET_X, WHILE_TRUE_AFTER_OUTPUT, RETURN_X = 0, 4, 5
CHANGE_THEN_LOOP, RETURN_KEPT, START_WAIT_END, READ_LINE, LONG_C_CALL, RETURN_FORCED = 9, 10, 11, 12, 13, 14


def _isolated(page) -> bool:
    return page.evaluate("() => self.crossOriginIsolated === true")


def _stop(page) -> None:
    page.locator("[data-command='notebook:interrupt-kernel']").first.click()


def _begun(page, index: int) -> None:
    """Until the cell printed "begun" (conftest): the worker runs it, so a stop now stops it there."""
    cell(page, index).locator(".jp-OutputArea").filter(has_text="begun").wait_for(timeout=WAIT_MS)


def _running(page, index: int) -> None:
    """Until the cell shows it runs ([*])."""
    cell(page, index).locator(".jp-InputArea-prompt").filter(has_text="[*]").wait_for(timeout=WAIT_MS)


def test_stop_in_place_keeps_the_interrupted_cells_changes(browser, site_url: str) -> None:
    context = browser.new_context()
    page = context.new_page()
    open_notebook(page, site_url)
    assert _isolated(page)
    run_cell(page, CHANGE_THEN_LOOP)
    _begun(page, CHANGE_THEN_LOOP)
    _stop(page)
    wait_for_prompt(page, CHANGE_THEN_LOOP)
    text = output_text(page, CHANGE_THEN_LOOP)
    assert "interrupted!" in text
    assert "rolled back" not in text and "stopped by force" not in text
    run_cell(page, RETURN_KEPT)  # the global the interrupted cell set is still there
    wait_for_prompt(page, RETURN_KEPT)
    assert output_text(page, RETURN_KEPT).strip().endswith("changed before the stop")

    # Output of a cell stopped in place (70,000 bytes, more than the ring holds) is all there.
    run_cell(page, SET_X)
    wait_for_prompt(page, SET_X)
    run_cell(page, WHILE_TRUE_AFTER_OUTPUT)
    cell(page, WHILE_TRUE_AFTER_OUTPUT).locator(".jp-OutputArea").filter(has_text="=" * 70000).wait_for(timeout=WAIT_MS)
    _stop(page)
    wait_for_prompt(page, WHILE_TRUE_AFTER_OUTPUT)
    assert "interrupted!" in output_text(page, WHILE_TRUE_AFTER_OUTPUT)
    run_cell(page, RETURN_X)
    wait_for_prompt(page, RETURN_X)
    assert output_text(page, RETURN_X).strip().endswith("41")
    context.close()


def test_output_streams_while_the_cell_computes(browser, site_url: str) -> None:
    """"start" shows while the cell still spins for 3 s before printing "end":
    the page's watcher drained the ring; without it both lines come together."""
    context = browser.new_context()
    page = context.new_page()
    open_notebook(page, site_url)
    run_cell(page, START_WAIT_END)
    page.wait_for_function(
        "() => { const t = document.querySelectorAll('.jp-Notebook .jp-Cell')[%d]"
        ".querySelector('.jp-OutputArea').innerText;"
        " return t.includes('start') && !t.includes('end'); }" % START_WAIT_END,
        timeout=WAIT_MS,
    )
    wait_for_prompt(page, START_WAIT_END)
    assert re.search(r"start\s+end", output_text(page, START_WAIT_END))
    context.close()


def test_a_stop_that_does_not_take_falls_back_to_the_restart(browser, site_url: str) -> None:
    """A long C call runs no hook: 1 s after the stop (interrupt.py's
    escalate_after) the worker is ended and restarted from the cell's start."""
    context = browser.new_context()
    page = context.new_page()
    open_notebook(page, site_url)
    run_cell(page, LONG_C_CALL)
    _begun(page, LONG_C_CALL)
    _stop(page)
    wait_for_prompt(page, LONG_C_CALL)
    text = output_text(page, LONG_C_CALL)
    assert "stopped by force" in text and "did not stop within 1 s" in text
    assert "rolled back to before this cell" in text
    run_cell(page, RETURN_FORCED)  # the restarted VM answers, with the state of before the cell
    wait_for_prompt(page, RETURN_FORCED)
    assert output_text(page, RETURN_FORCED).strip().endswith("nil")
    context.close()


def test_a_stop_pressed_as_the_cell_is_sent_is_not_lost(browser, site_url: str) -> None:
    """Run and stop pressed in one page task: the stop reaches the kernel while
    the cell's request is still on its way (JupyterLite's message queue, the
    kernel waiting for its VM). A stop applies to every cell sent before it, so
    the cell ends at once: before, the stop was dropped and the loop ran on."""
    context = browser.new_context()
    page = context.new_page()
    open_notebook(page, site_url)
    cell(page, CHANGE_THEN_LOOP).locator(".jp-InputArea-prompt").click()
    page.evaluate(
        """() => {  // JupyterLab's toolbar buttons act on mousedown
            for (const command of ['notebook:run-cell-and-select-next', 'notebook:interrupt-kernel']) {
                document.querySelector(`[data-command='${command}']`)
                    .dispatchEvent(new MouseEvent('mousedown', {bubbles: true, button: 0}));
            }
        }"""
    )
    wait_for_prompt(page, CHANGE_THEN_LOOP)
    text = output_text(page, CHANGE_THEN_LOOP)
    assert "The stop came before this cell began: none of it ran" in text
    run_cell(page, RETURN_KEPT)  # none of the cell ran: its global is not set
    wait_for_prompt(page, RETURN_KEPT)
    assert output_text(page, RETURN_KEPT).strip().endswith("nil")
    context.close()


def _answer_input(page, text: str) -> None:
    box = page.locator(".jp-Stdin-input").first
    box.wait_for(timeout=WAIT_MS)
    box.fill(text)
    box.press("Enter")


def test_io_read_waits_for_the_input_box_and_a_stop_ends_the_wait(browser, site_url: str) -> None:
    context = browser.new_context()
    page = context.new_page()
    open_notebook(page, site_url)
    run_cell(page, READ_LINE)
    _answer_input(page, "hello from the input box")
    wait_for_prompt(page, READ_LINE)
    assert output_text(page, READ_LINE).strip().endswith("got hello from the input box")
    page.locator(".jp-Stdin-input").first.wait_for(state="detached", timeout=WAIT_MS)  # the answered box

    run_cell(page, READ_LINE)
    page.locator(".jp-Stdin-input").first.wait_for(timeout=WAIT_MS)
    _stop(page)
    page.locator(".jp-OutputArea-output", has_text="interrupted!").first.wait_for(timeout=WAIT_MS)
    assert "rolled back" not in output_text(page, READ_LINE)
    run_cell(page, RETURN_KEPT)  # the VM still answers
    wait_for_prompt(page, RETURN_KEPT)
    assert output_text(page, RETURN_KEPT).strip().endswith("nil")
    context.close()


def test_without_isolation_stop_rolls_back_and_input_names_the_headers(browser, plain_site_url: str) -> None:
    context = browser.new_context()
    page = context.new_page()
    open_notebook(page, plain_site_url)
    assert not _isolated(page)
    run_cell(page, SET_X)
    wait_for_prompt(page, SET_X)
    run_cell(page, CHANGE_THEN_LOOP)
    _begun(page, CHANGE_THEN_LOOP)
    _stop(page)
    wait_for_prompt(page, CHANGE_THEN_LOOP)
    text = output_text(page, CHANGE_THEN_LOOP)
    assert "not cross-origin isolated" in text and "rolled back to before this cell" in text
    assert "Cross-Origin-Opener-Policy: same-origin" in text and "Cross-Origin-Embedder-Policy: require-corp" in text
    run_cell(page, RETURN_KEPT)  # the cell's change went with the rollback; x from before it stays
    wait_for_prompt(page, RETURN_KEPT)
    assert output_text(page, RETURN_KEPT).strip().endswith("nil")
    run_cell(page, RETURN_X)
    wait_for_prompt(page, RETURN_X)
    assert output_text(page, RETURN_X).strip().endswith("41")

    run_cell(page, READ_LINE)
    wait_for_prompt(page, READ_LINE)
    text = output_text(page, READ_LINE)
    assert "not cross-origin isolated" in text
    assert "Cross-Origin-Opener-Policy: same-origin" in text
    assert "Cross-Origin-Embedder-Policy: require-corp" in text
    context.close()
