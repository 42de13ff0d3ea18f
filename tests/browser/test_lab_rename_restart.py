"""An external table survives Kernel > Restart after the notebook was renamed by its first save.

A new notebook from the launcher is Untitled.ipynb; its kernel starts under
that name. The first Ctrl+S asks for a name and renames the file, so the
store must follow the notebook to its new name: after a restart the kernel
knows only the new one.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from lab_server import LabServer
from notebook_page import LAUNCHER_TILE, NotebookPage

pytestmark = pytest.mark.browser

NEW_NAME = "kept-counter.ipynb"


def test_external_table_survives_restart_after_rename_on_first_save(lab: LabServer, page: Page) -> None:
    page.goto(lab.url("lab"))
    page.locator(LAUNCHER_TILE).click()
    nb = NotebookPage(page).wait_ready()
    untitled = nb.panel_title()
    assert re.fullmatch(r"Untitled\d*\.ipynb", untitled)
    nb.execute(0, 'ext.table("demo").count = 1\nbefore_restart = true')

    nb.save()
    dialog = nb.dialog()
    expect(dialog.locator(".jp-Dialog-header")).to_contain_text("Rename")
    name = dialog.locator("input[type=text]")
    expect(name).to_have_value(untitled)
    name.fill(NEW_NAME)
    nb.accept_dialog("Rename")
    expect(nb.page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabLabel")).to_have_text(NEW_NAME)
    assert (lab.root / NEW_NAME).is_file() and not (lab.root / untitled).exists()

    nb.menu("Kernel", "Restart Kernel")
    expect(nb.dialog()).to_contain_text("Restart")
    nb.accept_dialog("Restart")
    nb.wait_kernel_idle()
    expect(nb.execute(1, "before_restart == nil")).to_have_text("true")  # a fresh VM
    expect(nb.execute(2, 'ext.table("demo").count')).to_have_text("1")
