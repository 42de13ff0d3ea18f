"""Shared fixtures: one compiled runtime per session, a fresh VM per test."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, ContextManager, Iterator

import pytest

from lua_wasm_kernel.vm import LuaVM, Runtime

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def runtime() -> Runtime:
    return Runtime()


@pytest.fixture
def vm(runtime: Runtime) -> LuaVM:
    return LuaVM(runtime=runtime)


class Output:
    """Collects (stream, text) pairs from an eval, in order."""

    def __init__(self) -> None:
        self.chunks: list[tuple[int, str]] = []

    def __call__(self, stream: int, text: str) -> None:
        self.chunks.append((int(stream), text))

    def text(self, stream: int | None = None) -> str:
        return "".join(t for s, t in self.chunks if stream is None or s == stream)


@pytest.fixture
def output() -> Output:
    return Output()


@pytest.fixture
def introspect_vm(runtime: Runtime) -> LuaVM:
    """A VM with the kernel's Lua helpers loaded, as the kernel makes it."""
    from lua_wasm_kernel import introspect

    return LuaVM(runtime=runtime, init_scripts=[introspect.init_script()])


@contextmanager
def _interrupt_after(vm: LuaVM, seconds: float) -> Iterator[threading.Event]:
    """Interrupts `vm`'s eval if the block is still running `seconds` later; the event tells if it did."""
    done, fired = threading.Event(), threading.Event()

    def stop_if_still_running() -> None:
        if not done.wait(seconds):
            fired.set()
            vm.interrupt()

    thread = threading.Thread(target=stop_if_still_running, daemon=True)
    thread.start()
    try:
        yield fired
    finally:
        done.set()
        thread.join()  # never let a late interrupt reach the next eval


@pytest.fixture(scope="session")
def interrupt_after() -> Callable[[LuaVM, float], ContextManager[threading.Event]]:
    """`with interrupt_after(vm, 1.0): vm.eval(...)`: a deadline for one eval (a wait, not an assertion)."""
    return _interrupt_after


def proc_memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in bytes, from /proc/<pid>/status."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) * 1024
    return fields


@pytest.fixture(scope="session")
def process_memory() -> Callable[[int], dict[str, int]]:
    """proc_memory as a fixture: `process_memory(pid)["VmRSS"]`."""
    return proc_memory


@pytest.fixture(scope="session")
def playwright_driver():  # type: ignore[no-untyped-def]
    """One Playwright driver for the whole run, shared by the browser suites
    (tests/browser, tests/lite): its sync API allows only one at a time."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver
