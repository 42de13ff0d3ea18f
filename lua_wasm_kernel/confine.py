"""The notebook folder's confinement rule: which names a notebook may use,
and the real paths they reach.

A name is relative; its real path (symlinks resolved) lies inside the root
folder; and no part of it, as written or as resolved below the root, is
hidden (starts with "."). Shared by the file layer (files.py) and meant for
require's searcher (modules.py) too.
"""
from __future__ import annotations

import errno
import os

PATH_SIZE_MAX_BYTES = 4096


class Refused(Exception):
    """A name the rule refuses: `errno` says how it fails (EACCES, ENAMETOOLONG)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.errno = code


def _hidden(parts: list[str]) -> bool:
    return any(p.startswith(".") and p not in (".", "..") for p in parts)


def _check_name(name: str) -> None:
    if not name or "\0" in name:
        raise Refused(errno.ENOENT, "empty name")
    if len(name.encode("utf-8", "surrogateescape")) > PATH_SIZE_MAX_BYTES:
        raise Refused(errno.ENAMETOOLONG, "name too long")
    if os.path.isabs(name) or os.path.splitdrive(name)[0] or name.startswith("~"):
        raise Refused(errno.EACCES, "not a relative name")
    if _hidden(name.replace(os.sep, "/").split("/")):
        raise Refused(errno.EACCES, "a hidden file or folder")


def _inside(root: str, real: str) -> None:
    if os.path.commonpath([real, root]) != root:
        raise Refused(errno.EACCES, "outside the notebook's folder")
    below = os.path.relpath(real, root)
    if below != "." and _hidden(below.split(os.sep)):
        raise Refused(errno.EACCES, "reaches a hidden file or folder")


def resolve(root: str, name: str) -> str:
    """The real path `name` reaches from `root` (a real path), symlinks all
    followed; raises Refused when the rule says no. The file need not exist."""
    _check_name(name)
    real = os.path.realpath(os.path.join(root, name))
    _inside(root, real)
    return real


def resolve_entry(root: str, name: str) -> str:
    """The path of the directory entry `name` itself (its folder resolved, a
    final symlink not followed), for removing or renaming it."""
    _check_name(name)
    folder, last = os.path.split(name)
    if last in ("", ".", ".."):
        raise Refused(errno.EACCES, "not a file of the notebook's folder")
    real_folder = os.path.realpath(os.path.join(root, folder))
    _inside(root, real_folder)
    return os.path.join(real_folder, last)
