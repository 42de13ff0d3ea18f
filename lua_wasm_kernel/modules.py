"""`require` from the notebook's folder: the host functions behind the Lua
searcher of src/require.lua.

Read-only and confined, checked here on the host (Lua code can call these
functions directly with any arguments): a module file is a `.lua` file,
named by a relative path with no hidden part (no component starting with
'.', but '.' itself), whose real path (symlinks resolved) lies inside the
root folder and has no hidden part either. The root is the notebook's
folder (jupyter_server sets JPY_SESSION_NAME to the notebook's path) or
else the kernel's working directory.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

if TYPE_CHECKING:
    from .vm import LuaVM

from . import abi
from .hostcall import HostCallError

_TOO_LONG = f"package.searchpath: the file names to try exceed {abi.SEARCH_NAMES_SIZE_MAX_CHARS} characters"

MODULE_SIZE_MAX_BYTES = 16 * 1024 * 1024
PATH_SIZE_MAX_BYTES = 4096
MODULE_SUFFIX = ".lua"


def notebook_root(environ: Mapping[str, str] | None = None) -> Path:
    """The notebook's folder when JPY_SESSION_NAME names it, else the working directory."""
    env = os.environ if environ is None else environ
    session = env.get("JPY_SESSION_NAME", "")
    if session and os.path.isabs(session):
        folder = os.path.dirname(session)
        if os.path.isdir(folder):
            return Path(folder)
    # A relative session path is relative to the server's root, which the
    # kernel does not know; the server starts the kernel in the notebook's folder.
    return Path.cwd()


class ModuleFinder:
    """Finds and reads Lua module files under `root`, and nowhere else."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = os.path.realpath(root if root is not None else notebook_root())

    def register(self, vm: LuaVM) -> None:
        vm.register_host_function("search_module", self.search)
        vm.register_host_function("read_module", self.read)

    def search(self, name: str | bytes, path: str | bytes, sep: str | bytes = ".", rep: str | bytes = "/") -> str | list[str]:
        """package.searchpath: the first readable file among `path`'s templates
        (";"-separated, "?" replaced by `name` with `sep` replaced by `rep`),
        or the list of "no file '...'" messages."""
        name, path, sep, rep = (_text(v) for v in (name, path, sep, rep))
        if sep:
            if name.count(sep) * max(len(rep) - len(sep), 0) > abi.SEARCH_NAMES_SIZE_MAX_CHARS:
                raise HostCallError(_TOO_LONG)
            name = name.replace(sep, rep)
        # Measured before built: "?" repeated in a long path times a long name.
        templates = path.split(";")
        size = sum(len(t) + t.count("?") * max(len(name) - 1, 0) for t in templates)
        if size > abi.SEARCH_NAMES_SIZE_MAX_CHARS:
            raise HostCallError(_TOO_LONG)
        tried = []
        # As many templates as Lua allows (attrib.lua tries 2,000): each file
        # name is checked on its own (_resolve), and the path fits in the VM.
        for template in templates:
            # Empty templates count too, as in loadlib.c ("no file ''").
            filename = template.replace("?", name)
            if self._resolve(filename) is not None:
                return filename
            tried.append(f"no file '{filename}'")
        return tried

    def read(self, filename: str | bytes) -> bytes:
        """The bytes of a module file found by `search`."""
        real = self._resolve(_text(filename))
        if real is None:
            raise HostCallError(f"cannot read '{_text(filename)}' (not a file inside the notebook's folder)")
        try:
            # No symlink swapped in since _resolve, no FIFO or device: a regular file.
            fd = os.open(real, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
            with os.fdopen(fd, "rb") as f:
                if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                    raise HostCallError(f"cannot read '{_text(filename)}' (not a regular file)")
                data = f.read(MODULE_SIZE_MAX_BYTES + 1)
        except OSError as e:
            raise HostCallError(f"cannot read '{_text(filename)}': {e.strerror}") from None
        if len(data) > MODULE_SIZE_MAX_BYTES:
            raise HostCallError(f"'{_text(filename)}' is larger than {MODULE_SIZE_MAX_BYTES} bytes")
        return data

    def _resolve(self, filename: str) -> str | None:
        """The real path of `filename` if it names a readable, visible `.lua`
        file inside the root, and reaches it without a hidden folder."""
        if not filename or len(filename) > PATH_SIZE_MAX_BYTES or "\0" in filename:
            return None
        if os.path.isabs(filename) or os.path.splitdrive(filename)[0] or filename.startswith("~"):
            return None
        if not _visible_module(filename):
            return None
        real = os.path.realpath(os.path.join(self.root, filename))
        if os.path.commonpath([real, self.root]) != self.root:
            return None
        if not _visible_module(os.path.relpath(real, self.root)):
            return None  # a symlink to a hidden file, or to a file that is not .lua
        if not os.path.isfile(real) or not os.access(real, os.R_OK):
            return None
        return real


def _visible_module(relative: str) -> bool:
    """A `.lua` file name whose path has no hidden part ('.' alone is the folder itself)."""
    parts = relative.replace("\\", "/").split("/")
    if any(part.startswith(".") and part != "." for part in parts):
        return False
    return parts[-1].endswith(MODULE_SUFFIX) and len(parts[-1]) > len(MODULE_SUFFIX)


def _text(value: str | bytes | object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    if not isinstance(value, str):
        raise HostCallError(f"expected a string, got {type(value).__name__}")
    return value
