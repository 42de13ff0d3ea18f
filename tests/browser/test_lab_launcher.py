"""The launcher offers the Lua kernel, with its logo, and a new notebook from it runs Lua."""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from lab_server import LabServer
from notebook_page import LAUNCHER_TILE as TILE
from notebook_page import NotebookPage

pytestmark = pytest.mark.browser

def test_launcher_tile_has_the_lua_logo(lab: LabServer, page: Page) -> None:
    page.goto(lab.url("lab"))
    tile = page.locator(TILE)
    expect(tile).to_have_count(1)
    expect(tile.locator(".jp-LauncherCard-label")).to_have_text("Lua 5.4 (WASM)")
    logo = tile.locator("img.jp-Launcher-kernelIcon")
    expect(logo).to_have_attribute("src", "/kernelspecs/lua-wasm/logo-svg.svg")
    # Loaded and drawn: an image that failed to load has no natural size.
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=logo.element_handle())
    served = page.evaluate(
        "async src => { const r = await fetch(src); return [r.status, r.headers.get('content-type'), await r.text()]; }",
        logo.get_attribute("src"),
    )
    assert served[0] == 200 and "svg" in served[1] and "<svg" in served[2]


def test_launcher_tile_opens_a_lua_notebook(lab: LabServer, page: Page) -> None:
    page.goto(lab.url("lab"))
    page.locator(TILE).click()
    nb = NotebookPage(page).wait_ready()
    expect(page.locator(".jp-StatusBar-TextItem", has_text="Lua 5.4 (WASM) | Idle")).to_have_count(1)
    nb.execute(0, "_VERSION")
    expect(nb.result(0)).to_have_text("Lua 5.4")
