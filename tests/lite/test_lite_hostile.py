"""The browser host against a hostile cell, end to end in chromium: the raw
host_call (reachable from Lua through the registry, as tests/test_sandbox.py
does for the Python host) with arguments no documented caller passes. Each
call gets an error for Lua, nothing outside the notebook's folder is fetched,
and the kernel answers the next cell with its state kept. The imports' own
hostile-call tables are jupyterlite/test/hostile.test.ts."""
from __future__ import annotations

import re

import pytest
from test_inspect_lite import _replace_cell_code
from test_lite_browser import cell, open_notebook, output_text, wait_for_prompt

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HOSTILE_CELL = r"""
kept = "still here"
local hc = debug.getregistry()["lua_wasm.prelude"].host_call
local out = {}
local function try(label, ...)
  local ok, r = hc(...)
  out[#out + 1] = label .. "=" .. tostring(ok) .. ":" .. (type(r) == "string" and r:sub(1, 90) or type(r))
end
try("product", "search_module", string.rep("n", 3000), string.rep("?", 3000), ".", "/")
try("rep", "search_module", string.rep(".", 3000), "?", ".", string.rep("r", 3000))
try("up", "read_module", "../secret.lua")
try("hidden", "read_module", ".hidden/x.lua")
try("abs", "read_module", "/etc/passwd.lua")
try("encoded", "read_module", "%2e%2e/x.lua")
try("query", "read_module", "x.lua?y=../../z.lua")
try("bytes", "read_module", "\255.lua")
try("module", "lua_wasm.module", "../../lua.wasm")
try("name", "lua_wasm.ext.open", string.rep("x", 257))
try("kind", "display", "script", "<script>1</script>")
try("nofn", "no such function")
local f, e = io.open("\255.txt")
out[#out + 1] = "io=" .. tostring(e)
print(table.concat(out, "\n"))
""".strip()


def test_hostile_host_calls_are_errors_and_the_kernel_lives(browser, site_url: str) -> None:
    context = browser.new_context()
    page = context.new_page()
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    open_notebook(page, site_url)

    _replace_cell_code(page, 0, HOSTILE_CELL)
    page.keyboard.press("Shift+Enter")
    wait_for_prompt(page, 0)
    text = output_text(page, 0)
    lines = dict(line.split("=", 1) for line in text.splitlines() if "=" in line and ":" in line)
    assert lines["product"].startswith("false:package.searchpath: the file names to try exceed"), text
    assert lines["rep"].startswith("false:package.searchpath: the file names to try exceed"), text
    for label in ("up", "hidden", "abs", "encoded", "query", "bytes"):
        assert lines[label].startswith("false:cannot read"), (label, text)
    assert lines["module"].startswith("false:no such module"), text
    assert lines["name"].startswith("false:a table name is 1 to 256 bytes long"), text
    assert lines["kind"].startswith("false:unknown display kind 'script'"), text
    assert lines["nofn"].startswith("false:the host has no function"), text
    assert lines["io"].startswith("\ufffd.txt: No such file or directory") or "No such file" in lines["io"], text
    files = [url for url in fetched if "/files/" in url]
    assert not any(bad in url for url in files for bad in ("secret", "passwd", "hidden", "%EF%BF%BD", "lua.wasm?")), files

    # The kernel lives, its state kept.
    _replace_cell_code(page, 1, "return kept")
    page.keyboard.press("Shift+Enter")
    wait_for_prompt(page, 1)
    assert output_text(page, 1).strip().endswith("still here")
    context.close()


@pytest.mark.parametrize(("isolated", "stop_button"), [(True, False), (False, False), (False, True)],
                         ids=["isolated", "plain", "plain-stop-button"])
def test_an_endless_introspection_is_stopped_and_the_kernel_answers(
        browser, site_url: str, plain_site_url: str, isolated: bool, stop_button: bool) -> None:
    """A Tab press runs introspect.lua through the cell's replaced `debug`, which never returns: after
    INTROSPECTION_TIME_MAX_SECONDS it is stopped in place (isolated) or its worker is restarted from the
    memory posted before it (plain, said on the next cell's stderr); the next cell runs with the state kept."""
    context = browser.new_context()
    page = context.new_page()
    open_notebook(page, site_url if isolated else plain_site_url)
    assert page.evaluate("() => self.crossOriginIsolated") is isolated
    _replace_cell_code(page, 0, "kept = 40\ndebug = {getregistry = function() while true do end end}")
    page.keyboard.press("Shift+Enter")
    wait_for_prompt(page, 0)
    _replace_cell_code(page, 1, "string.fo")
    page.keyboard.press("Tab")  # complete_request: introspect.lua through the replaced debug
    page.keyboard.press("Escape")
    if stop_button:  # ends it at once, not at the time limit
        page.locator("[data-command='notebook:interrupt-kernel']").first.click()
    _replace_cell_code(page, 2, "return kept + 2")
    page.keyboard.press("Shift+Enter")
    cell(page, 2).locator(".jp-InputArea-prompt").filter(has_text=re.compile(r"\[\d+\]")).wait_for(timeout=60_000)
    text = output_text(page, 2)
    assert text.strip().endswith("42"), text
    restarted = "its worker was ended and restarted, and the Lua state is as the last cell left it"
    assert (restarted in text) is not isolated, text
    if not isolated:
        why = "was stopped by the stop button" if stop_button else "ran for more than 2 s"
        assert why in text, text
    context.close()


# The kernel's IndexedDB database refuses every write while __luaFailSaves is set (a full quota, say);
# JupyterLite's own databases are left alone.
FAIL_SAVES = """
const transaction = IDBDatabase.prototype.transaction;
IDBDatabase.prototype.transaction = function (names, mode, ...rest) {
  if (mode === 'readwrite' && this.name === 'lua-wasm-ext-tables' && self.__luaFailSaves) {
    throw new DOMException('the quota is exceeded', 'QuotaExceededError');
  }
  return transaction.call(this, names, mode, ...rest);
};
self.__luaFailSaves = true;
"""


def test_a_failed_save_warns_on_stderr_and_is_retried_at_the_next_cell(browser, site_url: str) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.add_init_script(FAIL_SAVES)
    open_notebook(page, site_url)
    _replace_cell_code(page, 0, 't = ext.table("saved_later")\nt.x = 7\nreturn t.x')
    page.keyboard.press("Shift+Enter")
    wait_for_prompt(page, 0)
    text = output_text(page, 0)
    assert "cannot save the external table 'saved_later': QuotaExceededError: the quota is exceeded" in text, text
    page.evaluate("() => { self.__luaFailSaves = false; }")
    _replace_cell_code(page, 1, "return 1")
    page.keyboard.press("Shift+Enter")
    wait_for_prompt(page, 1)
    assert "cannot save" not in output_text(page, 1)
    # The retry wrote it: a reload (a new kernel) finds the table.
    page.add_init_script("self.__luaFailSaves = false;")  # after FAIL_SAVES: writes go through
    open_notebook(page, site_url)
    _replace_cell_code(page, 0, 'return ext.table("saved_later").x')
    page.keyboard.press("Shift+Enter")
    wait_for_prompt(page, 0)
    assert output_text(page, 0).strip().endswith("7"), output_text(page, 0)
    context.close()


def test_rich_output_runs_no_script_in_the_page(browser, site_url: str) -> None:
    """Was a strict xfail (a finding for both hosts); rich_output.json's rules now hold in the page."""
    context = browser.new_context()
    page = context.new_page()
    open_notebook(page, site_url)
    _replace_cell_code(page, 0, "\n".join([
        'display.html("<img src=x onerror=\\"window.__luaRan = 1\\"><script>window.__luaRan = 2</script>")',
        'local ok, err = pcall(display.data, {["application/javascript"] = "window.__luaRan = 3"})',
        'print("refused:", not ok and err:find("is refused", 1, true) ~= nil)',
        'display.markdown("<img src=x onerror=\\"window.__luaRan = 4\\">")',
        'print("shown")',
    ]))
    page.keyboard.press("Shift+Enter")
    wait_for_prompt(page, 0)
    # The image's error event comes after the output is in the page: wait for the broken image itself.
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-OutputArea img')].some(i => i.complete)", timeout=30_000)
    assert "shown" in output_text(page, 0) and "refused:\ttrue" in output_text(page, 0)
    assert page.evaluate("() => window.__luaRan") is None
    context.close()
