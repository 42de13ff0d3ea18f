"""Drives one JupyterLab notebook through its page: cells, prompts, outputs, menus, dialogs.

Only what a user does: clicks, keys, menus. Waits are for conditions in the
page (a prompt's number, an output's text), each with a timeout.
"""
from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

# How long a cell of the tests may take, from Ctrl+Enter to its number.
CELL_TIMEOUT_MS = 30_000
# A kernel's start (or restart) until it is idle.
KERNEL_TIMEOUT_MS = 60_000
STDOUT = "application/vnd.jupyter.stdout"
STDERR = "application/vnd.jupyter.stderr"
DONE_PROMPT = re.compile(r"^\[\d+\]:$")
BUSY_PROMPT = "[*]:"
# Test artifacts (git-ignored): screenshots of failures and of a notebook for the docs.
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
# The launcher's tile that opens a new Lua notebook.
LAUNCHER_TILE = '.jp-LauncherCard[data-category="Notebook"][title="Lua 5.4 (WASM)"]'


class NotebookPage:
    """The active notebook panel of a JupyterLab page."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")

    # --- waiting for the notebook and its kernel --------------------------------
    def wait_ready(self) -> "NotebookPage":
        """Waits for the notebook's first cell and an idle kernel."""
        self.cells.first.wait_for(timeout=KERNEL_TIMEOUT_MS)
        self.wait_kernel_idle()
        return self

    def wait_kernel_idle(self, timeout: int = KERNEL_TIMEOUT_MS) -> None:
        expect(self.page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"\| Idle$"))).to_have_count(
            1, timeout=timeout
        )

    def panel_title(self) -> str:
        """The file name on the notebook's tab."""
        return self.current_tab().locator(".lm-TabBar-tabLabel").inner_text()

    # --- cells --------------------------------------------------------------------
    @property
    def cells(self) -> Locator:
        return self.panel.locator(".jp-Notebook .jp-Cell")

    @property
    def code_cells(self) -> Locator:
        return self.panel.locator(".jp-Notebook .jp-CodeCell")

    def cell(self, index: int) -> Locator:
        return self.cells.nth(index)

    def editor(self, index: int) -> Locator:
        return self.cell(index).locator(".cm-content")

    def prompt(self, index: int) -> Locator:
        return self.cell(index).locator(".jp-InputArea-prompt")

    def set_source(self, index: int, source: str) -> None:
        """Replaces cell `index`'s text, as pasted (no auto-indent or closing brackets)."""
        self.editor(index).click()
        self.page.keyboard.press("Control+a")
        self.page.keyboard.press("Delete")
        self.page.keyboard.insert_text(source)

    def type_source(self, index: int, text: str) -> None:
        """Types `text` key by key at the end of cell `index`."""
        self.editor(index).click()
        self.page.keyboard.press("Control+End")
        self.page.keyboard.type(text)

    def run(self, index: int) -> None:
        """Runs cell `index` in place (Ctrl+Enter) without waiting for it."""
        self.editor(index).click()
        self.page.keyboard.press("Control+Enter")

    def wait_done(self, index: int, timeout: int = CELL_TIMEOUT_MS) -> None:
        expect(self.prompt(index)).to_have_text(DONE_PROMPT, timeout=timeout)

    def wait_running(self, index: int, timeout: int = CELL_TIMEOUT_MS) -> None:
        expect(self.prompt(index)).to_have_text(BUSY_PROMPT, timeout=timeout)

    def run_all(self, timeout: int = CELL_TIMEOUT_MS) -> None:
        """Run > Run All Cells, then waits until no cell is running or queued."""
        self.menu("Run", "Run All Cells")
        expect(self.code_cells.first.locator(".jp-InputArea-prompt")).to_have_text(DONE_PROMPT, timeout=timeout)
        busy = self.panel.locator(".jp-CodeCell .jp-InputArea-prompt", has_text=BUSY_PROMPT)
        expect(busy).to_have_count(0, timeout=timeout)
        self.wait_kernel_idle()

    def execute(self, index: int, source: str, timeout: int = CELL_TIMEOUT_MS) -> Locator:
        """Sets, runs and waits for cell `index` (adding cells as needed); its execute_result."""
        while self.cells.count() <= index:
            self.add_cell_below()
        self.set_source(index, source)
        self.run(index)
        self.wait_done(index, timeout)
        return self.result(index)

    def command_mode(self, index: int = 0) -> None:
        """Selects cell `index` (a click on its prompt) in command mode."""
        self.cell(index).locator(".jp-InputPrompt").click()
        self.page.keyboard.press("Escape")

    def add_cell_below(self) -> None:
        """Adds a code cell at the end (command mode, `B` on the last cell)."""
        last = self.cells.count() - 1
        self.command_mode(last)
        self.page.keyboard.press("b")
        expect(self.cells).to_have_count(last + 2)

    # --- outputs -------------------------------------------------------------------
    def outputs(self, index: int) -> Locator:
        return self.cell(index).locator(".jp-OutputArea-output")

    def output(self, index: int, mime: str) -> Locator:
        return self.cell(index).locator(f'.jp-OutputArea-output[data-mime-type="{mime}"]')

    def result(self, index: int) -> Locator:
        return self.cell(index).locator(".jp-OutputArea-executeResult .jp-OutputArea-output")

    # --- toolbar, menus, dialogs ------------------------------------------------------
    def toolbar_button(self, command: str) -> Locator:
        return self.panel.locator(f'.jp-NotebookPanel-toolbar [data-command="{command}"]')

    def menu(self, *labels: str) -> None:
        """Opens the menu bar's `labels[0]` and clicks down the path."""
        self.page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{re.escape(labels[0])}$")).click()
        for label in labels[1:]:
            item = self.page.locator(".lm-Menu:visible .lm-Menu-item", has=self.page.locator(
                ".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(label)}")))
            item.first.click()

    def dialog(self) -> Locator:
        return self.page.locator(".jp-Dialog")

    def accept_dialog(self, button: str) -> None:
        dialog = self.dialog()
        dialog.locator(".jp-Dialog-button", has_text=button).click()
        expect(dialog).to_have_count(0)

    def current_tab(self) -> Locator:
        return self.page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current")

    def save(self) -> None:
        """Ctrl+S in command mode (a first save may open the rename dialog)."""
        self.command_mode()
        self.page.keyboard.press("Control+s")

    def save_and_wait(self) -> None:
        """Saves and waits until the tab no longer shows unsaved changes."""
        self.save()
        expect(self.current_tab()).not_to_have_class(re.compile(r"\bjp-mod-dirty\b"))

    def clear_outputs(self) -> None:
        """Edit > Clear Outputs of All Cells: what Run All shows is then its own."""
        self.menu("Edit", "Clear Outputs of All Cells")
        expect(self.panel.locator(".jp-OutputArea-output")).to_have_count(0)
