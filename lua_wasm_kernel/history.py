"""history_request: tail, range and search over cells kept in SQLite.

The database has IPython's layout (`sessions`, `history`, `output_history`),
one session per kernel process. Cells are written by a background thread, in
batches, so a cell's round trip never waits for the disk; queries first write
whatever is pending, so they always see every cell.
"""
from __future__ import annotations

import datetime
import threading
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (session integer primary key autoincrement,
    start timestamp, end timestamp, num_cmds integer, remark text);
CREATE TABLE IF NOT EXISTS history (session integer, line integer,
    source text, source_raw text, PRIMARY KEY (session, line));
CREATE TABLE IF NOT EXISTS output_history (session integer, line integer,
    output text, PRIMARY KEY (session, line));
"""
# How long the writer waits after a cell for more cells to batch with it.
WRITE_DELAY_SECONDS = 0.5

Entry = tuple  # (session, line, source) or (session, line, (source, output))


def default_path() -> Path:
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "lua-wasm" / "history.sqlite"


class History:
    """The history of this kernel's session, and of earlier ones in the same file."""

    def __init__(self, path: str | Path, enabled: bool = True) -> None:
        self.path = str(path)
        self.enabled = enabled
        self._lock = threading.Lock()  # guards the connection
        self._pending_lock = threading.Lock()  # held only to append or take the pending list
        self._db: Any = None
        self._session = 0
        self._pending: list[tuple[int, str, str | None]] = []
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._writer: threading.Thread | None = None

    # -- recording (the kernel's per-cell path: no I/O here)

    def store(self, line: int, source: str, output: str | None = None) -> None:
        if not self.enabled:
            return
        with self._pending_lock:
            self._pending.append((line, source, output))
        if self._writer is None:
            import atexit

            atexit.register(self.close)
            self._writer = threading.Thread(target=self._write_loop, name="lua-wasm-history", daemon=True)
            self._writer.start()
        self._wake.set()

    def _write_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            if self._stop.wait(WRITE_DELAY_SECONDS):
                break  # close() writes the rest
            self.flush()

    def flush(self) -> None:
        """Writes pending cells now."""
        with self._lock:
            if not self._pending or self._connect() is None:
                return
            with self._pending_lock:
                batch, self._pending = self._pending, []
            try:
                with self._db:
                    self._db.executemany(
                        "INSERT OR REPLACE INTO history VALUES (?, ?, ?, ?)",
                        [(self._session, line, src, src) for line, src, _ in batch],
                    )
                    self._db.executemany(
                        "INSERT OR REPLACE INTO output_history VALUES (?, ?, ?)",
                        [(self._session, line, out) for line, _, out in batch if out is not None],
                    )
            except Exception:  # a locked or broken file must not take the kernel down
                self.enabled = False

    def close(self) -> None:
        """Writes what is pending and marks the session's end."""
        self._stop.set()
        self._wake.set()
        self.flush()
        with self._lock:
            if self._db is None:
                return
            try:
                with self._db:
                    self._db.execute(
                        "UPDATE sessions SET end = ?, num_cmds = "
                        "(SELECT count(*) FROM history WHERE session = ?) WHERE session = ?",
                        (datetime.datetime.now().isoformat(" "), self._session, self._session),
                    )
                self._db.close()
            except Exception:
                pass
            self._db = None

    def _connect(self) -> Any:
        """The connection, opened and the session started on first use (lock held)."""
        if self._db is None and self.enabled:
            import sqlite3

            try:
                if self.path != ":memory:":
                    Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, check_same_thread=False, timeout=5)
                db.executescript(SCHEMA)
                with db:
                    cursor = db.execute(
                        "INSERT INTO sessions VALUES (NULL, ?, NULL, NULL, '')",
                        (datetime.datetime.now().isoformat(" "),),
                    )
                self._session = cursor.lastrowid
                self._db = db
            except Exception:
                self.enabled = False
        return self._db

    # -- queries

    @property
    def session(self) -> int:
        """This kernel's session number (0 while history is off)."""
        with self._lock:
            self._connect()
            return self._session

    def tail(self, n: int = 10, output: bool = False) -> list[Entry]:
        """The last `n` cells, of any session, oldest first."""
        rows = self._query("ORDER BY h.session DESC, h.line DESC LIMIT ?", (max(0, n),), output)
        return rows[::-1]

    def range(self, session: int = 0, start: int = 1, stop: int | None = None, output: bool = False) -> list[Entry]:
        """Cells `start` to `stop` (exclusive; None for all) of a session.

        As in IPython, session 0 is this one and a negative number counts back
        from it (-1 is the previous session).
        """
        current = self.session
        if session <= 0:
            session += current
        where, params = "WHERE h.session = ? AND h.line >= ?", [session, start]
        if stop is not None:
            where += " AND h.line < ?"
            params.append(stop)
        return self._query(where + " ORDER BY h.line", tuple(params), output)

    def search(self, pattern: str = "*", n: int | None = None, unique: bool = False, output: bool = False) -> list[Entry]:
        """Cells matching the glob `pattern`, oldest first; the last `n` if given."""
        where, params = "WHERE h.source_raw GLOB ?", [pattern]
        if unique:
            # One row per source: its latest occurrence.
            where += (" AND NOT EXISTS (SELECT 1 FROM history l WHERE l.source_raw = h.source_raw"
                      " AND (l.session > h.session OR (l.session = h.session AND l.line > h.line)))")
        if n is not None:
            rows = self._query(where + " ORDER BY h.session DESC, h.line DESC LIMIT ?", (*params, n), output)
            return rows[::-1]
        return self._query(where + " ORDER BY h.session, h.line", tuple(params), output)

    def _query(self, clause: str, params: tuple, output: bool) -> list[Entry]:
        self.flush()
        with self._lock:
            if self._connect() is None:
                return []
            columns = "h.session, h.line, h.source_raw" + (", o.output" if output else "")
            join = " LEFT JOIN output_history o USING (session, line)" if output else ""
            sql = f"SELECT {columns} FROM history h{join} {clause}"
            try:
                rows = self._db.execute(sql, params).fetchall()
            except Exception:
                return []
        if output:
            return [(s, line, (src, out)) for s, line, src, out in rows]
        return [tuple(row) for row in rows]
