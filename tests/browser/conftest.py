"""Fixtures of the browser suite: one `jupyter lab` and one headless Chromium per session.

Chromium is Debian's (/usr/bin/chromium), driven by Playwright; it may reach
the lab server on 127.0.0.1 and nothing else (every other request is
aborted). Each test gets a fresh page on a fresh workspace; its kernels are
shut down after it, and a failing test leaves a screenshot in SCREENSHOTS.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any, Callable, Iterator

import pytest
from playwright.sync_api import BrowserContext, Page, Playwright, Route

from kernel_env import use_test_kernelspec
from lab_server import LabServer
from notebook_file import Cell, write_notebook
from notebook_page import KERNEL_TIMEOUT_MS, SCREENSHOTS, NotebookPage

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 860}


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    use_test_kernelspec()
    state = tmp_path_factory.mktemp("lab-state")
    root = tmp_path_factory.mktemp("lab-root")
    server = LabServer(root=root, state=state, log_path=state / "jupyter-lab.log")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser_context(lab: LabServer, playwright_driver: Playwright) -> Iterator[BrowserContext]:
    if not os.access(CHROMIUM, os.X_OK):
        # pip cannot install a browser: on a machine without Debian's chromium
        # the suite says so; in CI (.ci/run installs it) its absence fails.
        message = f"{CHROMIUM} is missing: `apt-get install chromium` (.ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    profile = tempfile.mkdtemp(prefix="lua-wasm-chromium-")
    pw = playwright_driver
    context = pw.chromium.launch_persistent_context(
        profile,
        executable_path=CHROMIUM,
        headless=True,
        args=CHROMIUM_ARGS,
        viewport=VIEWPORT,
    )
    context.set_default_timeout(KERNEL_TIMEOUT_MS)

    def local_only(route: Route) -> None:
        if route.request.url.startswith(lab.base + "/"):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", local_only)
    yield context
    context.close()
    shutil.rmtree(profile, ignore_errors=True)


_failed_key = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Remembers whether the test itself failed, for the page fixture's screenshot."""
    report = yield
    if report.when == "call":
        item.stash[_failed_key] = report.failed
    return report


@pytest.fixture
def page(lab: LabServer, browser_context: BrowserContext, request: pytest.FixtureRequest) -> Iterator[Page]:
    page = browser_context.new_page()
    yield page
    if request.node.stash.get(_failed_key, False):
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"failed-{request.node.name}.png"))
    page.close()
    lab.shutdown_kernels()


@pytest.fixture
def open_notebook(lab: LabServer, page: Page) -> Callable[..., NotebookPage]:
    """Writes a notebook of `sources` under the server's root, opens it, waits for its kernel."""

    def open_(name: str, sources: list[Cell] | None = None) -> NotebookPage:
        path = lab.root / name
        if sources is not None:
            write_notebook(path, sources)
        page.goto(lab.url(f"lab/tree/{name}"))
        return NotebookPage(page).wait_ready()

    return open_
