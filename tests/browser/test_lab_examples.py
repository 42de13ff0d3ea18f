"""Run All on every example notebook (notebooks/*.ipynb) in JupyterLab: no error output.

The notebooks folder is copied into the server's root, so files shipped
beside a notebook are there too, and each notebook's external tables start
empty in its real store. A cell tagged `raises-exception` is expected to
fail (JupyterLab goes on past it); only those cells' errors are allowed.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Callable

import pytest
from playwright.sync_api import expect

from lab_server import LabServer
from notebook_page import NotebookPage

pytestmark = pytest.mark.browser

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
EXAMPLES_FOLDER = "examples"
EXPECTED_ERROR_TAG = "raises-exception"
# Run All on the longest example, from the click to the last prompt.
RUN_ALL_TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def examples(lab: LabServer) -> Path:
    dest = lab.root / EXAMPLES_FOLDER
    shutil.copytree(NOTEBOOKS, dest, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    return dest


def errors_outside_tagged_cells(notebook: dict[str, Any]) -> list[str]:
    found = []
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "code" or EXPECTED_ERROR_TAG in cell["metadata"].get("tags", []):
            continue
        for output in cell.get("outputs", []):
            if output["output_type"] == "error" or output.get("name") == "stderr":
                found.append(f"cell {index}: {json.dumps(output)[:500]}")
    return found


@pytest.mark.parametrize("name", sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")))
def test_run_all_has_no_error_output(
    name: str, examples: Path, open_notebook: Callable[..., NotebookPage]
) -> None:
    original = json.loads((NOTEBOOKS / name).read_text())
    code_cells = sum(cell["cell_type"] == "code" for cell in original["cells"])
    nb = open_notebook(f"{EXAMPLES_FOLDER}/{name}")
    expect(nb.code_cells).to_have_count(code_cells)
    nb.clear_outputs()
    nb.run_all(timeout=RUN_ALL_TIMEOUT_MS)
    nb.save_and_wait()

    ran = json.loads((examples / name).read_text())
    assert errors_outside_tagged_cells(ran) == []
    counts = [cell["execution_count"] for cell in ran["cells"] if cell["cell_type"] == "code"]
    assert counts == list(range(1, code_cells + 1)), "every code cell ran once, in order"
    for index, cell in enumerate(ran["cells"]):
        if EXPECTED_ERROR_TAG in cell["metadata"].get("tags", []):
            assert any(out["output_type"] == "error" for out in cell["outputs"]), f"cell {index} raised"
