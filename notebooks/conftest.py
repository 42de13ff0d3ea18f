"""nbval setup for the example notebooks: address sanitizing and a fresh store per notebook.

Each notebook's kernel is started (by nbval, when its first cell is set up)
with LUA_WASM_CHECKPOINT_DIR naming a new temporary folder, so its external
tables start empty and the saved outputs (made the same way by generate.py)
match. Outputs are compared after notebooks/sanitize.cfg replaces addresses
such as `table: 0x65148`.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SANITIZE_FILE = HERE / "sanitize.cfg"
STORE_VARIABLE = "LUA_WASM_CHECKPOINT_DIR"

_stores: dict[str, str] = {}
_outside = os.environ.get(STORE_VARIABLE)  # the value the rest of the run keeps


def pytest_configure(config: pytest.Config) -> None:
    option = config.option
    if getattr(option, "nbval_sanitize_with", "unset") is None:
        option.nbval_sanitize_with = str(SANITIZE_FILE)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before a notebook's kernel starts: point its store at a fresh folder."""
    if not str(item.path).endswith(".ipynb"):
        return
    key = str(item.path)
    if key not in _stores:
        _stores[key] = tempfile.mkdtemp(prefix="lua-wasm-nbval-")
    os.environ[STORE_VARIABLE] = _stores[key]


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    if _outside is None:
        os.environ.pop(STORE_VARIABLE, None)
    else:
        os.environ[STORE_VARIABLE] = _outside


def pytest_unconfigure(config: pytest.Config) -> None:
    for folder in _stores.values():
        shutil.rmtree(folder, ignore_errors=True)
    _stores.clear()
