"""External tables on disk, and the kernel's per-cell checkpoint step.

Where: `<notebook folder>/.ipynb_checkpoints/<notebook file name>.lua-wasm/`,
the notebook's path coming from JPY_SESSION_NAME (jupyter_server sets it);
a console without one uses the working directory and the name `console`.
The kernel's `checkpoint_dir` setting (env LUA_WASM_CHECKPOINT_DIR) replaces
`<notebook folder>/.ipynb_checkpoints`, for tests and nbval; each notebook
still gets its own `<name>.lua-wasm` folder, so two notebooks in one folder
keep separate stores.

What: one pickle file per table, `ext-<quoted name>.pickle`, holding
`{"lua_wasm_ext": 1, "name": name, "items": {key bytes: value bytes}}`, the
bytes in the type-tagged format exactly as the store keeps them. After each
cell only the changed tables are written, each atomically (a temporary file
in the same folder, fsync, rename, fsync of the folder), so a crash at any
moment leaves the last complete file. Files are read with an Unpickler that
resolves no global at all: built-in containers and scalars only, so a
hostile file cannot run code. An unreadable file is moved aside (renamed
`*.corrupt`) with a warning in the notebook, never silently dropped.

Tables are loaded on the first use of `ext`, and the modules that files
need are imported then too: the kernel's start stays fast. Whole-VM
snapshots (snapshot.py) live in the same folder.
"""
from __future__ import annotations

import io
import logging
import os
import time
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

from .modules import notebook_root

if TYPE_CHECKING:
    from .ext_tables import ExtTable, TableName
    from .vm import LuaVM

log = logging.getLogger(__name__)

CHECKPOINTS_FOLDER = ".ipynb_checkpoints"
STORE_SUFFIX = ".lua-wasm"
CONSOLE_NAME = "console"
TABLE_PREFIX = "ext-"
TABLE_SUFFIX = ".pickle"
CORRUPT_SUFFIX = ".corrupt"
FORMAT_KEY = "lua_wasm_ext"
FORMAT_VERSION = 1
PICKLE_PROTOCOL = 5
# Quoted names longer than this get a hashed file name (the name is inside).
FILE_NAME_SIZE_MAX = 120
# Temporary files of a writer that died mid-write are removed after this long.
STALE_TEMP_SECONDS = 600

Warn = Callable[[str], None]


def store_folder(checkpoint_dir: str = "", environ: Mapping[str, str] | None = None) -> Path:
    """The folder of this notebook's store (not created until something is written)."""
    env = os.environ if environ is None else environ
    session = env.get("JPY_SESSION_NAME", "")
    notebook = os.path.basename(session.rstrip("/\\")) if session else ""
    root = Path(checkpoint_dir) if checkpoint_dir else notebook_root(env) / CHECKPOINTS_FOLDER
    return root / f"{notebook or CONSOLE_NAME}{STORE_SUFFIX}"


def quote_name(name: str | bytes) -> str:
    """A file-name-safe, readable form of a table or snapshot name."""
    import urllib.parse
    from hashlib import sha256

    raw = name.encode("utf-8") if isinstance(name, str) else name
    quoted = urllib.parse.quote(raw, safe="")
    if quoted.startswith("."):
        quoted = "%2E" + quoted[1:]
    if len(quoted) > FILE_NAME_SIZE_MAX:
        quoted = quoted[:40] + "-" + sha256(raw).hexdigest()[:32]
    return quoted


def write_atomic(path: Path, data: bytes | memoryview) -> None:
    """Writes `path` so that it holds either its old or its new content, whatever happens."""
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_folder(path.parent)


def fsync_folder(folder: Path) -> None:
    """Makes a rename or unlink in `folder` durable (where the platform allows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class UnsafePickleError(Exception):
    """A pickle that asks for anything beyond built-in containers and scalars."""


def loads_restricted(data: bytes) -> Any:
    """pickle.loads that resolves no global and no persistent id.

    Protocol 5 writes dict, list, tuple, set, frozenset, bytes, bytearray,
    str, int, float, bool and None with opcodes of their own; everything else
    (any class, any callable a __reduce__ names) needs find_class, which is
    refused before anything is called.
    """
    import pickle

    class Restricted(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            raise UnsafePickleError(f"refused to load {module}.{name}: only built-in containers and scalars are allowed")

        def persistent_load(self, pid: Any) -> Any:
            raise UnsafePickleError("refused a persistent id")

    return Restricted(io.BytesIO(data)).load()


class TableFiles:
    """The pickle files of one store folder."""

    def __init__(self, folder: Path, warn: Warn) -> None:
        self.folder = Path(folder)
        self.warn = warn

    def path_for(self, name: TableName) -> Path:
        return self.folder / f"{TABLE_PREFIX}{quote_name(name)}{TABLE_SUFFIX}"

    def save(self, name: TableName, items: dict[bytes, bytes]) -> None:
        import pickle

        data = pickle.dumps({FORMAT_KEY: FORMAT_VERSION, "name": name, "items": items}, protocol=PICKLE_PROTOCOL)
        write_atomic(self.path_for(name), data)

    def delete(self, name: TableName) -> None:
        try:
            self.path_for(name).unlink()
        except FileNotFoundError:
            return
        fsync_folder(self.folder)

    def load_all(self) -> Iterator[tuple[TableName, dict[bytes, bytes]]]:
        """Every readable table; unreadable files are moved aside with a warning."""
        try:
            entries = sorted(os.scandir(self.folder), key=lambda e: e.name)
        except FileNotFoundError:
            return
        except OSError as e:
            self.warn(f"lua-wasm: cannot read the external tables in {self.folder}: {e}")
            return
        seen: dict[TableName, str] = {}
        for entry in entries:
            if entry.name.startswith(".") and entry.name.endswith(".tmp"):
                self._remove_stale_temp(entry)
                continue
            if not (entry.name.startswith(TABLE_PREFIX) and entry.name.endswith(TABLE_SUFFIX)):
                continue
            path = Path(entry.path)
            try:
                name, items = self.read(path)
            except Exception as e:  # noqa: BLE001 -- any failure means the file is unusable
                self._move_aside(path, e)
                continue
            if name in seen:
                self.warn(f"lua-wasm: {path.name} and {seen[name]} both hold the external table {name!r}; "
                          f"using {path.name}")
            seen[name] = path.name
            yield name, items

    def read(self, path: Path) -> tuple[TableName, dict[bytes, bytes]]:
        """One table file: its name and items, checked for shape."""
        from .ext_tables import KEY_TAGS, NAME_SIZE_MAX_BYTES

        obj = loads_restricted(path.read_bytes())
        if not isinstance(obj, dict) or obj.get(FORMAT_KEY) != FORMAT_VERSION:
            raise ValueError("not an external table file of this version")
        name, items = obj.get("name"), obj.get("items")
        if not isinstance(name, (str, bytes)) or not 0 < len(name) <= NAME_SIZE_MAX_BYTES:
            raise ValueError("bad table name")
        if not isinstance(items, dict):
            raise ValueError("bad items")
        # Checked with C-level loops: a 100,000-item table costs milliseconds.
        keys, values = items.keys(), items.values()
        if set(map(type, keys)) - {bytes} or set(map(type, values)) - {bytes}:
            raise ValueError("bad item: keys and values must be bytes")
        if not all(values) or set(map(itemgetter(0), keys)) - KEY_TAGS:
            raise ValueError("bad item: an empty value or a key of another type")
        return name, items

    def _move_aside(self, path: Path, error: Exception) -> None:
        target = path.with_name(path.name + CORRUPT_SUFFIX)
        if target.exists():
            target = path.with_name(f"{path.name}.{time.strftime('%Y%m%d-%H%M%S')}{CORRUPT_SUFFIX}")
        try:
            os.replace(path, target)
            fsync_folder(self.folder)
            where = f"it was moved aside to {target}"
        except OSError as e:
            where = f"it could not be moved aside ({e}) and was left in place"
        reason = str(error) or type(error).__name__
        self.warn(f"lua-wasm: warning: the external table file {path} is unreadable ({reason}); "
                  f"{where}, and its table starts empty.")

    def _remove_stale_temp(self, entry: os.DirEntry) -> None:
        try:
            if time.time() - entry.stat().st_mtime > STALE_TEMP_SECONDS:
                os.unlink(entry.path)
        except OSError:
            pass


class Checkpoints:
    """The kernel's side: loads tables on first use, saves changed ones after
    each cell, carries out snapshot requests, and shows warnings in the cell."""

    def __init__(self, vm: LuaVM, folder: Path, restore: str = "") -> None:
        from .snapshot import Snapshots

        self.vm = vm
        self.folder = Path(folder)
        self.files = TableFiles(self.folder, self.warn)
        vm.ext.attach_loader(self.files.load_all)
        self.snapshots = Snapshots(vm, self.folder, self.warn)
        self.snapshots.register(vm)
        self._send: Warn | None = None
        self._queued: list[str] = []
        self.last_persist_seconds = 0.0
        if restore:
            self.snapshots.restore_now(restore)

    # -- warnings: shown in the running cell (stderr), else in the next one

    def warn(self, message: str) -> None:
        log.warning("%s", message)
        text = message if message.endswith("\n") else message + "\n"
        if self._send is not None:
            self._send(text)
        else:
            self._queued.append(text)

    def begin_cell(self, send_stderr: Warn | None) -> None:
        """A cell starts; `send_stderr` shows text in it (None: a silent cell)."""
        self._send = send_stderr
        self._flush_queue()

    def end_cell(self, ok: bool) -> None:
        """The cell ended: save the changed tables, then snapshot or restore as asked."""
        try:
            self.persist()
            self.snapshots.after_cell(ok)
        except Exception as e:  # noqa: BLE001 -- never lose the cell's reply to this step
            log.exception("the checkpoint step after a cell failed")
            self.warn(f"lua-wasm: saving after the cell failed: {type(e).__name__}: {e}")
        finally:
            self._flush_queue()
            self._send = None

    def _flush_queue(self) -> None:
        if self._send is not None and self._queued:
            queued, self._queued = self._queued, []
            for text in queued:
                self._send(text)

    # -- saving

    def persist(self) -> int:
        """Writes the tables changed since the last call; returns how many."""
        changed, dropped = self.vm.ext.take_changes()
        if not changed and not dropped:
            return 0
        start = time.perf_counter()
        for name in dropped:
            try:
                self.files.delete(name)
            except OSError as e:
                self.warn(f"lua-wasm: cannot delete the dropped external table {name!r}: {e}")
        for table in changed:
            self._save(table)
        self.last_persist_seconds = time.perf_counter() - start
        return len(changed)

    def _save(self, table: ExtTable) -> None:
        try:
            self.files.save(table.name, table.items)
        except Exception as e:  # noqa: BLE001 -- disk full, permissions...: keep it in memory, retry later
            table.dirty = True
            self.warn(f"lua-wasm: cannot save the external table {table.name!r} to {self.folder}: {e}; "
                      "it stays in memory and is saved again after the next cell.")
