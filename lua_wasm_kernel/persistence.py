"""External tables on disk, and the kernel's per-cell checkpoint step.

Where: `<notebook folder>/.ipynb_checkpoints/<notebook file name>.lua-wasm/`,
the notebook's path coming from JPY_SESSION_NAME (jupyter_server sets it).
Without one (a console, or a headless run: `jupyter execute`, nbconvert,
nbval) the store is named by the kernel's `store_name` setting (env
LUA_WASM_STORE_NAME, e.g. the notebook's file name), else `console`: all such
runs in one folder then share the `console.lua-wasm` store. The kernel's
`checkpoint_dir` setting (env LUA_WASM_CHECKPOINT_DIR) replaces
`<notebook folder>/.ipynb_checkpoints`, for tests and nbval; each notebook
still gets its own `<name>.lua-wasm` folder, so two notebooks in one folder
keep separate stores.

Renames: each store records the id of the kernel that last used it (file
`kernel-id`; the id is the connection file's `kernel-<id>.json`, kept by a
restarted kernel). When a notebook's store does not exist yet but one last
used by this same kernel id exists under another notebook's name in the same
folder, the kernel adopts it (renames the folder, with a note in the first
cell): a notebook saved under a new name (JupyterLab's first Ctrl+S on
Untitled.ipynb) keeps its tables after Kernel > Restart.

One kernel per store: the first use of `ext` takes an exclusive lock
(fcntl.flock on the store's `.lock`; released when the process ends). A
second kernel on the same notebook warns in that cell, reads the tables as
they are, and keeps its own changes in memory only. (No lock on Windows.)

What: one pickle file per table, `ext-<quoted name>.pickle` (store_files.py:
upper-case letters are marked, `Data` -> `ext-^data.pickle`, so names that
differ in case get different files where file names ignore case), holding
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

import logging
import os
import time
import weakref
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Mapping

from .modules import notebook_root
from .store_files import fsync_folder, loads_restricted, quote_name, write_atomic

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
KERNEL_ID_FILE = "kernel-id"
LOCK_FILE = ".lock"
KERNEL_ID_SIZE_MAX_BYTES = 256
FORMAT_KEY = "lua_wasm_ext"
FORMAT_VERSION = 1
PICKLE_PROTOCOL = 5
# Temporary files of a writer that died mid-write are removed after this long.
STALE_TEMP_SECONDS = 600

Warn = Callable[[str], None]


def store_folder(checkpoint_dir: str = "", environ: Mapping[str, str] | None = None, store_name: str = "") -> Path:
    """The folder of this notebook's store (not created until something is written)."""
    env = os.environ if environ is None else environ
    session = env.get("JPY_SESSION_NAME", "") or store_name
    notebook = os.path.basename(session.rstrip("/\\")) if session else ""
    if notebook in (".", ".."):
        notebook = ""
    root = Path(checkpoint_dir) if checkpoint_dir else notebook_root(env) / CHECKPOINTS_FOLDER
    return root / f"{notebook or CONSOLE_NAME}{STORE_SUFFIX}"


def kernel_id_from_connection_file(connection_file: str) -> str:
    """The kernel id: `<id>` of the connection file's name `kernel-<id>.json`
    (jupyter_server's), else the file's whole stem; a restart keeps the file."""
    stem = Path(connection_file).stem if connection_file else ""
    return stem.removeprefix("kernel-") or stem


def adopt_renamed_store(folder: Path, kernel_id: str) -> Path | None:
    """Renames the store this kernel id last used, under another notebook
    name in the same folder, to `folder` if that does not exist; returns the
    old path, or None."""
    if not kernel_id or folder.exists():
        return None
    try:
        candidates = [
            entry for entry in os.scandir(folder.parent)
            if entry.name.endswith(STORE_SUFFIX) and entry.is_dir() and _kernel_id_of(Path(entry.path)) == kernel_id
        ]
    except OSError:
        return None
    if not candidates:
        return None
    newest = max(candidates, key=lambda e: _mtime(Path(e.path) / KERNEL_ID_FILE))
    old = Path(newest.path)
    try:
        os.rename(old, folder)
    except OSError as e:
        log.warning("cannot adopt the store %s as %s: %s", old, folder, e)
        return None
    fsync_folder(folder.parent)
    return old


def _kernel_id_of(store: Path) -> str | None:
    try:
        with open(store / KERNEL_ID_FILE, "rb") as f:
            return f.read(KERNEL_ID_SIZE_MAX_BYTES).decode("utf-8", "replace").strip()
    except OSError:
        return None


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


class StoreLock:
    """An exclusive lock on one store folder, held until the process ends."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._fd: int | None = None

    def acquire(self) -> bool:
        """True if this process holds the lock (or the platform has no flock)."""
        if self._fd is not None:
            return True
        try:
            import fcntl
        except ImportError:  # Windows: no lock (docs/LUA_API.md)
            return True
        self.folder.mkdir(parents=True, exist_ok=True)
        # Read-only: flock needs no write access, and an fd open for writing
        # would keep the folder's file system from being remounted read-only.
        fd = os.open(self.folder / LOCK_FILE, os.O_RDONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        weakref.finalize(self, os.close, fd)  # the lock ends with its owner (or the process)
        return True


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
            path = self._rename_legacy(path, name)
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

    def _rename_legacy(self, path: Path, name: TableName) -> Path:
        """A file named as before upper-case letters were marked gets its
        current name, so the next save replaces it instead of adding a second file."""
        target = self.path_for(name)
        if path.name == target.name or target.exists():
            return path
        if path.name != f"{TABLE_PREFIX}{quote_name(name, case_marks=False)}{TABLE_SUFFIX}":
            return path  # renamed by hand: leave it
        try:
            os.replace(path, target)
            fsync_folder(self.folder)
            return target
        except OSError:
            return path

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

    def __init__(self, vm: LuaVM, folder: Path, restore: str = "", kernel_id: str = "") -> None:
        from .snapshot import Snapshots

        self.vm = vm
        self.folder = Path(folder)
        self.kernel_id = kernel_id
        self.files = TableFiles(self.folder, self.warn)
        vm.ext.attach_loader(self._load_all)
        self.snapshots = Snapshots(vm, self.folder, self.warn)
        self.snapshots.register(vm)
        self._send: Warn | None = None
        self._queued: list[str] = []
        self.last_persist_seconds = 0.0
        self.lock = StoreLock(self.folder)
        self._claimed = False
        self.read_only = False  # another kernel holds the store: changes stay in memory
        adopted = adopt_renamed_store(self.folder, kernel_id)
        if adopted is not None:
            self.warn(f"lua-wasm: the notebook was renamed: its external tables and snapshots moved with it "
                      f"from {adopted.name} to {self.folder.name} (in {self.folder.parent}).")
        if restore:
            self.snapshots.restore_now(restore)

    # -- the store: claimed (locked, kernel id recorded) on first use

    def _load_all(self) -> Iterator[tuple[TableName, dict[bytes, bytes]]]:
        self._claim()
        return self.files.load_all()

    def _claim(self) -> None:
        """Locks the store for this kernel and records its id (for renames)."""
        if self._claimed:
            return
        self._claimed = True
        try:
            if not self.lock.acquire():
                self.read_only = True
                self.warn(f"lua-wasm: warning: another kernel is using this notebook's external tables "
                          f"({self.folder}); this kernel reads them as they are but keeps its own changes "
                          "in memory only: they are not saved. Shut the other kernel down, then restart "
                          "this one to save again.")
                return
            if self.kernel_id and _kernel_id_of(self.folder) != self.kernel_id:
                write_atomic(self.folder / KERNEL_ID_FILE, self.kernel_id.encode("utf-8"))
        except OSError as e:  # a read-only folder: saving warns again, with the reason
            log.warning("cannot lock or mark the store %s: %s", self.folder, e)

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
        self._claim()
        if self.read_only:
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
