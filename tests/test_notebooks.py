"""The example notebooks beyond what nbval checks: counter.ipynb across a kernel restart."""
from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import nbformat

from kernel_client import kernel, restart, run, stream_text

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def code_cells(name: str) -> list[str]:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


def run_all(kc, cells: list[str]) -> tuple[str, list[str]]:
    """Runs every cell, each of which must succeed: (stdout, text/plain results)."""
    stdout, results = "", []
    for source in cells:
        reply, messages = run(kc, source)
        assert reply["content"]["status"] == "ok", (source, reply["content"])
        stdout += stream_text(messages, "stdout")
        results += [m["content"]["data"]["text/plain"] for m in messages if m["msg_type"] == "execute_result"]
    return stdout, results


def runs_counted(stdout: str) -> int:
    found = re.search(r"this notebook has run (\d+) time", stdout)
    assert found, stdout
    return int(found.group(1))


def test_counter_survives_a_restart(tmp_path: Path) -> None:
    cells = code_cells("counter.ipynb")
    with kernel(LUA_WASM_CHECKPOINT_DIR=str(tmp_path)) as (km, kc):
        first_out, first_results = run_all(kc, cells)
        restart(km, kc)
        second_out, second_results = run_all(kc, cells)
    assert runs_counted(first_out) == 1
    assert runs_counted(second_out) == 2
    assert first_results[0] == "1" and second_results[0] == "2"  # counter.clicks
    assert any(tmp_path.rglob("*")), "the external table was not written to the store"


def test_every_example_notebook_is_generated() -> None:
    """The notebooks nbval validates are the ones generate.py writes, outputs saved."""
    spec = importlib.util.spec_from_file_location("notebooks_generate", NOTEBOOKS / "generate.py")
    generate = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = generate  # dataclasses look their module up there
    spec.loader.exec_module(generate)
    on_disk = {p.stem for p in NOTEBOOKS.glob("*.ipynb")}
    assert on_disk == set(generate.NOTEBOOKS)
    for name, cells in generate.NOTEBOOKS.items():
        nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
        sources = [cell.source for cell in nb.cells]
        assert sources == [cell.source for cell in cells], f"{name}.ipynb differs from generate.py: rerun it"
        code = [cell for cell in nb.cells if cell.cell_type == "code"]
        assert any(cell.outputs for cell in code), f"{name}.ipynb has no saved outputs"
