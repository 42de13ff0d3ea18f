"""The confined file layer: the host side of the lw_file_* imports behind
Lua's io library and os.remove/os.rename/os.tmpname (docs/ABI.md, "Files").

Files are named relative to the notebook's folder and reach nothing outside
it, nor anything hidden (confine.py). `file_access` says what a notebook may
do there: "none", "read" (the default in the kernel) or "read-write".
Handles are host state, per instance: a new instance (a reset, a trap, a
snapshot restore) starts with none, so a file the restored Lua state still
holds fails with EBADF ("Bad file descriptor").
"""
from __future__ import annotations

import enum
import errno
import logging
import os
import re
import secrets
import stat
import tempfile
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

import wasmtime

from . import abi, confine

if TYPE_CHECKING:
    from .vm import LuaVM

log = logging.getLogger(__name__)

OPEN_FILES_MAX = 64
READ_SIZE_MAX_BYTES = 1 << 20
_MODE = re.compile(r"([rwa])(\+?)b*")


class FileAccess(str, enum.Enum):
    NONE = "none"
    READ = "read"
    READ_WRITE = "read-write"


class _Fail(Exception):
    def __init__(self, code: int) -> None:
        self.errno = code


@dataclass
class _Open:
    fd: int
    keep: IO[bytes] | None = None  # an anonymous temporary file's owner


def abi_errno(code: int | None) -> int:
    """The host's errno as the ABI's (Linux) number; anything unknown is EIO."""
    name = errno.errorcode.get(code or 0, "")
    try:
        return int(abi.Errno[name])
    except KeyError:
        return int(abi.Errno.EIO)


class Files:
    """The open files of one LuaVM, its folder (`root`) and its `access`."""

    def __init__(self, root: str | os.PathLike[str] | None = None, access: FileAccess | str = FileAccess.NONE) -> None:
        self.root = os.path.realpath(root if root is not None else os.getcwd())
        self.access = FileAccess(access)
        self.handles: dict[int, _Open] = {}
        self.vm: LuaVM | None = None

    def configure(self, access: FileAccess | str, root: str | os.PathLike[str] | None = None) -> None:
        """Sets the access and the folder (default: the notebook's); open files stay open."""
        if root is None:
            from .modules import notebook_root

            root = notebook_root()
        self.root = os.path.realpath(root)
        self.access = FileAccess(access)

    def define_imports(self, linker: wasmtime.Linker, vm: LuaVM) -> None:
        """Defines the imports for a new instance, whose files start closed."""
        self.close_all()
        self.vm = vm
        i32, i64 = wasmtime.ValType.i32(), wasmtime.ValType.i64()
        for name, params, results, fn in (
            ("lw_file_open", [i32] * 4, [i32], self.open),
            ("lw_file_read", [i32] * 3, [i32], self.read),
            ("lw_file_write", [i32] * 3, [i32], self.write),
            ("lw_file_seek", [i32, i64, i32], [i64], self.seek),  # the offset is signed
            ("lw_file_close", [i32], [i32], self.close),
            ("lw_file_remove", [i32] * 2, [i32], self.remove),
            ("lw_file_rename", [i32] * 4, [i32], self.rename),
            ("lw_file_tmpname", [i32] * 2, [i32], self.tmpname),
        ):
            linker.define_func("env", name, wasmtime.FuncType(params, results), vm._in_host(_guarded(fn, params)))

    def close_all(self) -> None:
        for handle in list(self.handles):
            self._release(handle)

    # -- the imports (each returns -errno on failure, through _guarded)

    def open(self, path_ptr: int, path_len: int, mode_ptr: int, mode_len: int) -> int:
        temporary = path_ptr == 0 and path_len == 0  # tmpfile()
        name = "" if temporary else self._text(path_ptr, path_len)
        mode = self._text(mode_ptr, mode_len)
        m = _MODE.fullmatch(mode)
        if m is None:
            raise _Fail(errno.EINVAL)
        writes = m.group(1) != "r" or m.group(2) == "+"
        self._allow(writes)
        if len(self.handles) >= OPEN_FILES_MAX:
            raise _Fail(errno.EMFILE)
        if temporary:  # anonymous, outside every folder, gone when closed
            keep = tempfile.TemporaryFile("w+b", buffering=0)
            return self._add(_Open(keep.fileno(), keep))
        real = self._resolve(name)
        flags = {"r": os.O_RDONLY, "w": os.O_WRONLY | os.O_CREAT | os.O_TRUNC, "a": os.O_WRONLY | os.O_CREAT | os.O_APPEND}[m.group(1)]
        if m.group(2) == "+":
            flags = (flags & ~os.O_WRONLY) | os.O_RDWR
        # No blocking on a FIFO, no symlink swapped in since the check.
        fd = os.open(real, flags | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
        try:
            kind = os.fstat(fd).st_mode
            if not (stat.S_ISREG(kind) or stat.S_ISDIR(kind)):
                raise _Fail(errno.EACCES)
            os.set_blocking(fd, True)
        except BaseException:
            os.close(fd)
            raise
        return self._add(_Open(fd))

    def read(self, handle: int, dst_ptr: int, dst_cap: int) -> int:
        f = self._get(handle)
        self._check_span(dst_ptr, dst_cap)
        data = os.read(f.fd, min(dst_cap, READ_SIZE_MAX_BYTES))
        if data:
            self._vm().write(dst_ptr, data)
        return len(data)

    def write(self, handle: int, src_ptr: int, src_len: int) -> int:
        f = self._get(handle)
        self._check_span(src_ptr, src_len)
        return os.write(f.fd, self._vm().read(src_ptr, src_len))

    def seek(self, handle: int, offset: int, whence: int) -> int:
        f = self._get(handle)
        if whence not in (0, 1, 2):
            raise _Fail(errno.EINVAL)
        return os.lseek(f.fd, offset, (os.SEEK_SET, os.SEEK_CUR, os.SEEK_END)[whence])

    def close(self, handle: int) -> int:
        self._get(handle)
        self._release(handle)
        return 0

    def remove(self, path_ptr: int, path_len: int) -> int:
        name = self._text(path_ptr, path_len)
        self._allow(True)
        entry = self._resolve_entry(name)
        if os.path.isdir(entry) and not os.path.islink(entry):
            os.rmdir(entry)  # as C's remove()
        else:
            os.unlink(entry)
        return 0

    def rename(self, from_ptr: int, from_len: int, to_ptr: int, to_len: int) -> int:
        source, target = self._text(from_ptr, from_len), self._text(to_ptr, to_len)
        self._allow(True)
        os.rename(self._resolve_entry(source), self._resolve_entry(target))
        return 0

    def tmpname(self, dst_ptr: int, dst_cap: int) -> int:
        self._allow(True)
        self._check_span(dst_ptr, dst_cap)
        fd, path = tempfile.mkstemp(prefix="lua_", dir=self.root)
        os.close(fd)
        name = os.path.basename(path).encode()
        if len(name) > dst_cap:
            os.unlink(path)
            raise _Fail(errno.ENAMETOOLONG)
        self._vm().write(dst_ptr, name)
        return len(name)

    # -- internals

    def _allow(self, writes: bool) -> None:
        if self.access == FileAccess.NONE:
            raise _Fail(errno.EACCES)
        if writes and self.access != FileAccess.READ_WRITE:
            raise _Fail(errno.EROFS)

    def _resolve(self, name: str) -> str:
        try:
            return confine.resolve(self.root, name)
        except confine.Refused as e:
            raise _Fail(e.errno) from None

    def _resolve_entry(self, name: str) -> str:
        try:
            return confine.resolve_entry(self.root, name)
        except confine.Refused as e:
            raise _Fail(e.errno) from None

    def _add(self, f: _Open) -> int:
        while True:
            handle = secrets.randbelow(2**31 - 1) + 1  # never a handle of an earlier instance's image
            if handle not in self.handles:
                self.handles[handle] = f
                return handle

    def _get(self, handle: int) -> _Open:
        f = self.handles.get(handle)
        if f is None:
            raise _Fail(errno.EBADF)
        return f

    def _release(self, handle: int) -> None:
        f = self.handles.pop(handle)
        try:
            if f.keep is not None:
                f.keep.close()
            else:
                os.close(f.fd)
        except OSError:
            log.debug("closing file handle %d failed", handle, exc_info=True)

    def _vm(self) -> LuaVM:
        if self.vm is None:
            raise _Fail(errno.EBADF)
        return self.vm

    def _check_span(self, ptr: int, length: int) -> None:
        """A pointer and length from wasm: unsigned, inside the memory."""
        size = self._vm().memory_bytes
        if ptr <= 0 or length < 0 or ptr + length > size:
            raise _Fail(errno.EINVAL)

    def _text(self, ptr: int, length: int) -> str:
        if length > confine.PATH_SIZE_MAX_BYTES:
            raise _Fail(errno.ENAMETOOLONG)
        if length == 0:
            return ""
        self._check_span(ptr, length)
        return self._vm().read(ptr, length).decode("utf-8", "surrogateescape")


def _guarded(fn: Any, params: list[wasmtime.ValType]) -> Any:
    """An import: OSError and refusals become -errno; its i32s read as unsigned."""
    unsigned = [p == wasmtime.ValType.i32() for p in params]

    def imported(*args: int) -> int:
        args = tuple(a & 0xFFFFFFFF if u else a for a, u in zip(args, unsigned))
        try:
            return fn(*args)
        except _Fail as e:
            return -abi_errno(e.errno)
        except OSError as e:
            return -abi_errno(e.errno)

    return imported
