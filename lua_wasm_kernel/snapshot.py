"""Whole-VM snapshots: the Lua state saved as its memory image, and restored.

The module imports a fixed-size memory, and between two calls into it every
wasm global is back at its start value (the only mutable one is the shadow
stack pointer, which each call restores; tests/test_snapshot.py checks the
module has no other). The function table is the module's own and never
changes. So the bytes of linear memory, static data included, are the whole
state of an idle VM: restoring writes them into a fresh instance of the same
module with a memory of the same size. What lives in the host is saved
beside them: the ids the external tables' proxies hold.

A snapshot file (`snapshot-<quoted name>.lwsnap`, in the notebook's store
folder beside the external tables):

    8 bytes   magic b"LWSNAP\\x00\\x01"
    u32       header length, then the header: JSON, UTF-8
    the rest  the image, zlib-compressed

The header names the build (SHA-256 of lua.wasm), the memory size and the
ABI; a snapshot whose build or size differs from the running VM's is
refused. External tables are not part of a snapshot: they keep their
latest contents, saved after every cell (persistence.py).

From Lua: `wasm.snapshot(name)` and `wasm.restore(name)` take effect when the
cell ends (a snapshot taken inside a running cell would catch the VM in the
middle of a call); the kernel setting `restore_snapshot` restores one at start.
Modules only snapshots need (json, zlib, hashlib) are imported on first use.
"""
from __future__ import annotations

import logging
import struct
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from . import abi
from .hostcall import HostCallError
from .store_files import check_name, quote_name, write_atomic

if TYPE_CHECKING:
    from .vm import LuaVM, Runtime

log = logging.getLogger(__name__)

MAGIC = b"LWSNAP\x00\x01"
FORMAT_VERSION = 1
FILE_PREFIX = "snapshot-"
FILE_SUFFIX = ".lwsnap"
NAME_SIZE_MAX_BYTES = 128
HEADER_SIZE_MAX_BYTES = 1 << 20
# zlib level 1: most of an image is zeros or free heap, and speed matters
# more than the last few percent (docs/BENCHMARKS.md).
COMPRESS_LEVEL = 1

_build_ids: dict[tuple[str, int, int], str] = {}


class SnapshotError(Exception):
    """A snapshot cannot be saved, read or restored; the message says why."""


def build_id(runtime: Runtime) -> str:
    """SHA-256 of the running lua.wasm (cached per file version)."""
    path = runtime.wasm_path
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _build_ids:
        import hashlib

        _build_ids[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return _build_ids[key]


def encode(vm: LuaVM, ext_ids: dict[int, Any] | None = None, name: str | bytes = "") -> bytes:
    """The snapshot file's bytes for `vm`, which must be between evals."""
    import json
    import zlib

    image = vm.save_image()
    header = {
        "format": FORMAT_VERSION,
        "name": _name_json(0, name)[1],
        "build": build_id(vm.runtime),
        "memory_bytes": vm.memory_bytes,
        "abi": abi.ABI_VERSION,
        "created": time.time(),
        "ext_ids": [_name_json(table_id, name) for table_id, name in sorted((ext_ids or {}).items())],
    }
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    return MAGIC + struct.pack("<I", len(head)) + head + zlib.compress(image, COMPRESS_LEVEL)


def decode_header(data: bytes) -> tuple[dict[str, Any], int]:
    """The header and where the compressed image starts."""
    import json

    if data[: len(MAGIC)] != MAGIC:
        raise SnapshotError("not a lua-wasm snapshot (or one of another format version)")
    (length,) = struct.unpack_from("<I", data, len(MAGIC))
    start = len(MAGIC) + 4
    if length > HEADER_SIZE_MAX_BYTES or start + length > len(data):
        raise SnapshotError("the snapshot's header is damaged")
    try:
        header = json.loads(data[start : start + length].decode("utf-8"))
    except ValueError as e:
        raise SnapshotError(f"the snapshot's header is damaged ({e})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT_VERSION:
        raise SnapshotError("the snapshot has an unknown format version")
    return header, start + length


def check_compatible(header: dict[str, Any], vm: LuaVM) -> None:
    """Refuses a snapshot of another build or memory size (the hash check)."""
    if header.get("build") != build_id(vm.runtime) or header.get("abi") != abi.ABI_VERSION:
        raise SnapshotError(
            "it was taken with a different build of lua.wasm (its SHA-256 differs), "
            "so its memory image does not fit this VM"
        )
    if header.get("memory_bytes") != vm.memory_bytes:
        raise SnapshotError(
            f"it was taken with a memory of {header.get('memory_bytes')} bytes, "
            f"and this VM has {vm.memory_bytes} (set the kernel's memory_limit to match)"
        )


def restore(vm: LuaVM, data: bytes) -> dict[int, Any]:
    """Replaces `vm`'s Lua state by the snapshot; returns the external tables' ids."""
    import zlib

    header, start = decode_header(data)
    check_compatible(header, vm)
    try:
        image = zlib.decompress(data[start:])
    except zlib.error as e:
        raise SnapshotError(f"the snapshot's image is damaged ({e})") from None
    if len(image) != vm.memory_bytes:
        raise SnapshotError("the snapshot's image has the wrong size")
    vm.load_image(image)
    return dict(_name_from_json(entry) for entry in header.get("ext_ids", []))


def _name_json(table_id: int, name: str | bytes) -> list[Any]:
    if isinstance(name, str):
        return [table_id, name]
    return [table_id, {"hex": name.hex()}]


def _name_from_json(entry: list[Any]) -> tuple[int, str | bytes]:
    table_id, name = entry
    return int(table_id), bytes.fromhex(name["hex"]) if isinstance(name, dict) else name


class Snapshots:
    """The snapshots of one store folder, and the requests of the running cell."""

    def __init__(self, vm: LuaVM, folder: Path, warn: Callable[[str], None]) -> None:
        self.vm = vm
        self.folder = Path(folder)
        self.warn = warn
        self._save_request: str | bytes | None = None
        self._restore_request: str | bytes | None = None
        self.last_save_seconds = 0.0
        self.last_restore_seconds = 0.0

    def register(self, vm: LuaVM) -> None:
        vm.register_host_function("lua_wasm.snapshot", self.request_save)
        vm.register_host_function("lua_wasm.restore", self.request_restore)
        vm.register_host_function("lua_wasm.snapshots", self.names)

    def path_for(self, name: str | bytes) -> Path:
        return self.folder / f"{FILE_PREFIX}{quote_name(name)}{FILE_SUFFIX}"

    # -- host functions (during a cell)

    def request_save(self, name: Any) -> str:
        self._save_request = check_name(name, "snapshot", NAME_SIZE_MAX_BYTES)
        return str(self.path_for(name))

    def request_restore(self, name: Any) -> bool:
        name = check_name(name, "snapshot", NAME_SIZE_MAX_BYTES)
        try:
            data = self._read(name)
            check_compatible(decode_header(data)[0], self.vm)
        except SnapshotError as e:
            raise HostCallError(f"cannot restore the snapshot {name!r}: {e}") from None
        self._restore_request = name
        return True

    def names(self) -> list[str | bytes]:
        """The names of the snapshots in the folder, sorted (from their headers)."""
        try:
            paths = sorted(self.folder.glob(f"{FILE_PREFIX}*{FILE_SUFFIX}"))
        except OSError:
            return []
        names = []
        for path in paths:
            try:
                with open(path, "rb") as f:
                    head = f.read(HEADER_SIZE_MAX_BYTES + len(MAGIC) + 4)
                header, _ = decode_header(head)
                names.append(_name_from_json([0, header["name"]])[1])
            except (OSError, SnapshotError, KeyError, TypeError, ValueError):
                continue  # not one of ours, or damaged: restoring it would say why
        return sorted(names, key=lambda n: n.encode("utf-8") if isinstance(n, str) else n)

    # -- between cells

    def after_cell(self, ok: bool) -> None:
        """Carries out the running cell's requests: save first, then restore."""
        save, restore_name = self._save_request, self._restore_request
        self._save_request = self._restore_request = None
        if not ok:
            for what, name in (("snapshot", save), ("restore", restore_name)):
                if name is not None:
                    self.warn(f"lua-wasm: the {what} of {name!r} was not done: the cell failed.")
            return
        if save is not None:
            try:
                self.save(save)
            except (OSError, SnapshotError) as e:
                self.warn(f"lua-wasm: cannot save the snapshot {save!r}: {e}")
        if restore_name is not None:
            self.restore_now(restore_name)

    def save(self, name: str | bytes) -> Path:
        start = time.perf_counter()
        path = self.path_for(name)
        write_atomic(path, encode(self.vm, self.vm.ext.ids(), name))
        self.last_save_seconds = time.perf_counter() - start
        return path

    def restore_now(self, name: str | bytes) -> bool:
        """Restores the snapshot `name`; on failure warns and keeps the state."""
        start = time.perf_counter()
        try:
            ids = restore(self.vm, self._read(name))
        except SnapshotError as e:
            self.warn(f"lua-wasm: cannot restore the snapshot {name!r}: {e}")
            return False
        except Exception as e:  # noqa: BLE001 -- e.g. the new instance failed
            log.exception("restoring the snapshot %r failed", name)
            self.warn(f"lua-wasm: restoring the snapshot {name!r} failed ({type(e).__name__}: {e}); "
                      "the Lua state may have been reset")
            return False
        self.vm.ext.rebind(ids)
        self.last_restore_seconds = time.perf_counter() - start
        return True

    def _read(self, name: str | bytes) -> bytes:
        """The snapshot file of `name`, whose header must name it too."""
        path = self.path_for(name)
        legacy = self.folder / f"{FILE_PREFIX}{quote_name(name, case_marks=False)}{FILE_SUFFIX}"
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            try:
                data = legacy.read_bytes()  # written before names were case-marked
            except FileNotFoundError:
                raise SnapshotError(f"there is no snapshot of that name in {self.folder}") from None
            except OSError as e:
                raise SnapshotError(str(e)) from None
        except OSError as e:
            raise SnapshotError(str(e)) from None
        header, _ = decode_header(data)
        try:
            held = _name_from_json([0, header.get("name")])[1]
        except (KeyError, TypeError, ValueError):
            held = None
        if held != name:
            # A file copied or renamed by hand, or a case-insensitive file system.
            raise SnapshotError(f"the file {path.name} holds the snapshot {held!r}, not {name!r}")
        return data

