"""The SQLite history: IPython's layout, tail, range and search."""
from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from lua_wasm_kernel.history import History


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "sub" / "history.sqlite"


def filled(path: Path, cells: list[tuple[str, str | None]]) -> History:
    h = History(path)
    for line, (source, output) in enumerate(cells, 1):
        h.store(line, source, output)
    return h


def test_tail_range_and_search(path: Path) -> None:
    h = filled(path, [("x = 1", None), ("print(x)", None), ("x + 1", "2"), ("x + 1", "2")])
    s = h.session
    assert h.tail(2) == [(s, 3, "x + 1"), (s, 4, "x + 1")]
    assert h.tail(1, output=True) == [(s, 4, ("x + 1", "2"))]
    assert h.tail(2, output=True)[0] == (s, 3, ("x + 1", "2"))
    assert h.range(0, 2, 4) == [(s, 2, "print(x)"), (s, 3, "x + 1")]
    assert h.range(0, 3) == [(s, 3, "x + 1"), (s, 4, "x + 1")]
    assert h.search("x*") == [(s, 1, "x = 1"), (s, 3, "x + 1"), (s, 4, "x + 1")]
    assert h.search("x*", unique=True) == [(s, 1, "x = 1"), (s, 4, "x + 1")]
    assert h.search("x*", n=1) == [(s, 4, "x + 1")]
    assert h.search("print(?)") == [(s, 2, "print(x)")]
    h.close()


def test_sessions_follow_each_other_in_ipythons_layout(path: Path) -> None:
    first = filled(path, [("a = 1", None), ("b = 2", None)])
    s1 = first.session
    first.close()
    second = filled(path, [("c = 3", None)])
    s2 = second.session
    assert s2 == s1 + 1
    assert second.range(-1) == [(s1, 1, "a = 1"), (s1, 2, "b = 2")]
    assert second.range(s1, 2) == [(s1, 2, "b = 2")]
    assert second.tail(2) == [(s1, 2, "b = 2"), (s2, 1, "c = 3")]
    second.close()
    with sqlite3.connect(path) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"sessions", "history", "output_history"} <= tables
        assert db.execute("SELECT num_cmds FROM sessions WHERE session = ?", (s1,)).fetchone() == (2,)
        assert db.execute("SELECT end FROM sessions WHERE session = ?", (s1,)).fetchone()[0]


def test_the_writer_thread_saves_cells_on_its_own(path: Path) -> None:
    h = filled(path, [("written = true", None)])
    deadline = time.monotonic() + 10
    rows: list = []
    while not rows and time.monotonic() < deadline:
        time.sleep(0.1)
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
                rows = db.execute("SELECT source_raw FROM history").fetchall()
        except sqlite3.OperationalError:
            pass  # not created yet
    assert rows == [("written = true",)]
    h.close()


def test_close_saves_what_is_pending(path: Path) -> None:
    h = filled(path, [("pending = true", None)])
    h.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT source_raw FROM history").fetchall() == [("pending = true",)]


def test_disabled_and_unusable_files(tmp_path: Path) -> None:
    off = History(tmp_path / "off.sqlite", enabled=False)
    off.store(1, "x")
    assert off.tail(5) == [] and not (tmp_path / "off.sqlite").exists()
    (tmp_path / "blocker").write_text("a file where a directory should be")
    broken = History(tmp_path / "blocker" / "history.sqlite")
    broken.store(1, "x")
    assert broken.tail(5) == []  # no exception: history is just off


def test_in_memory(tmp_path: Path) -> None:
    h = filled(Path(":memory:"), [("m = 1", None)])
    assert [e[2] for e in h.tail(5)] == ["m = 1"]
    h.close()
