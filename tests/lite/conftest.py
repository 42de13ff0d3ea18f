"""Fixtures of the browser suite: the JupyterLite extension built from
jupyterlite/, a site built offline with it, served on 127.0.0.1 twice (cross-origin
isolated, as the kernel's shared memory needs, and plainly, for its fallback),
and Debian's chromium driven by Playwright (never a browser Playwright downloads)."""
from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]
LITE = ROOT / "jupyterlite"
sys.path.insert(0, str(LITE))
from lua_wasm_jupyterlite import serve  # noqa: E402  (the documented server, not the installed package)
LABEXTENSION = LITE / "lua_wasm_jupyterlite" / "labextension"
CHROMIUM = os.environ.get("LUA_WASM_CHROMIUM", "/usr/bin/chromium")
NOTEBOOK = "lite_test.ipynb"


def build_extension() -> Path:
    """npm install (once) and npm run build: the extension, lua.wasm copied in."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is not installed: the JupyterLite extension cannot be built (Debian: nodejs npm)")
    if not (ROOT / "lua_wasm_kernel" / "lua.wasm").exists():
        pytest.fail("lua_wasm_kernel/lua.wasm is missing: build it with `python hatch_build.py`")
    if not (LITE / "node_modules" / "@jupyterlite" / "services").exists():
        subprocess.run([npm, "install", "--no-audit", "--no-fund", "--package-lock=false"], cwd=LITE, check=True)
    subprocess.run([npm, "run", "build"], cwd=LITE, check=True)
    return LABEXTENSION


def make_notebook() -> dict:
    """The notebook the browser tests run, cell by cell."""
    cells = [
        'x = 41\nprint("streamed line")\nreturn x + 1',
        'error("boom")',
        'display.html("<b id=\'lua-bold\'>bold from Lua</b>")',
        't = ext.table("kept")\nt.count = (t.count or 0) + 1\nreturn t.count',
        'print(string.rep("=", 70000))\nwhile true do end',
        'return x',
        'local s = {} for i = 1, 1e7 do s[i] = i end',
        'return require("greet").hi()',
        'require("lib.absent")',
        # "begun" shows (flushed, streamed) once the worker runs the cell: the tests stop it then.
        'kept = "changed before the stop"\nprint("begun")\nio.stdout:flush()\nwhile true do end',
        'return kept',
        'print("start")\nlocal t = os.clock()\nwhile os.clock() - t < 3 do end\nprint("end")',
        'local line = io.read()\nreturn "got " .. line',
        # Backtracks for minutes inside the pattern matcher, where no hook runs.
        'forced = 1\nprint("begun")\nio.stdout:flush()\nstring.find(string.rep("a", 40), string.rep("a-", 40) .. "b")',
        'return forced',
    ]
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "lua-wasm", "display_name": "Lua 5.4 (WASM)", "language": "lua"},
            "language_info": {"name": "lua"},
        },
        "cells": [
            {"cell_type": "code", "id": f"c{i}", "metadata": {}, "execution_count": None, "outputs": [], "source": src}
            for i, src in enumerate(cells)
        ],
    }


@pytest.fixture(scope="session")
def lite_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A JupyterLite site built offline with the kernel extension and notebooks."""
    labextension = build_extension()
    work = tmp_path_factory.mktemp("lite")
    extensions = work / "extensions" / "@lua-wasm"
    extensions.mkdir(parents=True)
    shutil.copytree(labextension, extensions / "jupyterlite-kernel")
    contents = work / "contents"
    contents.mkdir()
    (contents / NOTEBOOK).write_text(json.dumps(make_notebook()), encoding="utf-8")
    (contents / "greet.lua").write_text('return {hi = function() return "hi from a site module" end}\n')
    for example in sorted((ROOT / "notebooks").iterdir()):  # notebooks and the files they read
        if example.suffix in (".ipynb", ".csv", ".lua"):
            shutil.copy(example, contents / example.name)
    # Every cell in the page (JupyterLab renders only the visible ones by default).
    overrides = {"@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"}}
    (work / "overrides.json").write_text(json.dumps(overrides), encoding="utf-8")
    site = work / "site"
    subprocess.run(
        [sys.executable, "-m", "jupyterlite_core", "build", "--contents", str(contents), "--output-dir", str(site),
         "--ignore-sys-prefix", f"--FederatedExtensionAddon.extra_labextensions_path={work / 'extensions'}"],
        cwd=work, check=True,
    )
    return site


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class _IsolatedHandler(serve.IsolatedHandler):
    """Serves the site as `python -m lua_wasm_jupyterlite.serve` does (the
    documented way): SharedArrayBuffer exists, so the kernel's memory is shared
    with the page (stop in place, streaming, input)."""


def _serve(site: Path, handler_class: type) -> Iterator[str]:
    handler = functools.partial(handler_class, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def site_url(lite_site: Path) -> Iterator[str]:
    """The site, cross-origin isolated."""
    yield from _serve(lite_site, _IsolatedHandler)


@pytest.fixture(scope="session")
def plain_site_url(lite_site: Path) -> Iterator[str]:
    """The same site without the isolation headers: the kernel's fallbacks."""
    yield from _serve(lite_site, _QuietHandler)


@pytest.fixture(scope="session")
def browser(playwright_driver: object) -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (never `playwright install`)")
    browser = playwright_driver.chromium.launch(  # type: ignore[attr-defined]
        executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
    try:
        yield browser
    finally:
        browser.close()
