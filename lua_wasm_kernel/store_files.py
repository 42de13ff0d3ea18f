"""The store's file primitives: file-name quoting, atomic writes, restricted
unpickling and name checks, shared by the table files (persistence.py) and
the snapshots (snapshot.py)."""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

# Quoted names longer than this get a hashed file name (the name is inside).
FILE_NAME_SIZE_MAX = 120
# Marks an upper-case ASCII letter in a quoted name, so that names differing
# only in case get different files on case-insensitive file systems (macOS,
# Windows). quote() escapes a literal "^", so the mark is unambiguous.
UPPER_MARK = "^"


def quote_name(name: str | bytes, case_marks: bool = True) -> str:
    """A file-name-safe, readable form of a table or snapshot name, unique
    even where file names ignore case ("Data" -> "^data"); a name without
    upper-case letters keeps the form it always had. `case_marks=False`
    gives the form of earlier versions, to find their files."""
    import urllib.parse
    from hashlib import sha256

    raw = name.encode("utf-8") if isinstance(name, str) else name
    quoted = urllib.parse.quote(raw, safe="")
    if quoted.startswith("."):
        quoted = "%2E" + quoted[1:]
    if case_marks:
        quoted = _mark_upper(quoted)
    if len(quoted) > FILE_NAME_SIZE_MAX:
        quoted = quoted[:40] + "-" + sha256(raw).hexdigest()[:32]
    return quoted


def _mark_upper(quoted: str) -> str:
    """Marks A-Z outside %XX escapes (those are always upper-case hex)."""
    out, i = [], 0
    while i < len(quoted):
        ch = quoted[i]
        if ch == "%":
            out.append(quoted[i : i + 3])
            i += 3
            continue
        out.append(UPPER_MARK + ch.lower() if "A" <= ch <= "Z" else ch)
        i += 1
    return "".join(out)


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


def check_name(name: Any, what: str, size_max_bytes: int) -> str | bytes:
    """A table's or snapshot's name from Lua: a string of 1 to `size_max_bytes` bytes."""
    from .hostcall import HostCallError

    if not isinstance(name, (str, bytes)):
        raise HostCallError(f"a {what} name is a string, not {type(name).__name__}")
    raw = name.encode("utf-8") if isinstance(name, str) else name
    if not 0 < len(raw) <= size_max_bytes:
        raise HostCallError(f"a {what} name is 1 to {size_max_bytes} bytes long")
    return name
