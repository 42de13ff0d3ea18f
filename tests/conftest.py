"""Shared fixtures: one compiled runtime per session, a fresh VM per test."""
from __future__ import annotations

from pathlib import Path

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
