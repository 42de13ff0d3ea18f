"""Lua notebook files for the browser tests, written straight to the server's root."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Union

from kernel_env import KERNEL_NAME

KERNELSPEC_METADATA = {
    "kernelspec": {"name": KERNEL_NAME, "display_name": "Lua 5.4 (WASM)", "language": "lua"},
    "language_info": {"name": "lua"},
}
# A code cell's source, or a whole cell (e.g. `markdown(...)`).
Cell = Union[str, dict[str, Any]]


def markdown(source: str) -> dict[str, Any]:
    """A Markdown cell, for `write_notebook`."""
    return {"cell_type": "markdown", "metadata": {}, "source": source}


def write_notebook(path: Path, sources: list[Cell]) -> Path:
    """A Lua notebook at `path`: a code cell (no outputs yet) per string, other cells as given."""
    cells = [
        {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": source}
        if isinstance(source, str)
        else source
        for source in sources
    ]
    nb = {"cells": cells, "metadata": KERNELSPEC_METADATA, "nbformat": 4, "nbformat_minor": 5}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1))
    return path
