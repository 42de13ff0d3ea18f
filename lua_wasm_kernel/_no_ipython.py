"""Lets `ipykernel.kernelbase` be imported without importing all of IPython.

kernelbase needs one thing from IPython: `StdinNotImplementedError`, from
`IPython.core.error` (a module of plain exception classes with no imports).
But importing any IPython module first runs `IPython/__init__.py`, which
imports its terminal shell, prompt_toolkit and more: 250-400 ms of the
kernel's cold start on this project's machine (docs/BENCHMARKS.md).

`preload_ipython_error()` loads that one real file under its real name,
`IPython.core.error`, before kernelbase asks for it, with importlib's public
API; the import system then finds it in `sys.modules` and imports nothing
else. The exception class is IPython's own, so if something later imports
IPython fully, it reuses this module and `except StdinNotImplementedError`
still matches (only the attribute `IPython.core.error` of the `IPython.core`
package stays unset; `from IPython.core import error` still works). If
anything about this fails (another IPython layout), it does nothing and
kernelbase imports IPython as usual: slower, not broken.
"""
from __future__ import annotations

import importlib.util
import os
import sys

MODULE = "IPython.core.error"


def preload_ipython_error() -> bool:
    """True if IPython.core.error is (now) importable without IPython's __init__."""
    if MODULE in sys.modules or "IPython" in sys.modules:
        return True
    try:
        spec = importlib.util.find_spec("IPython")  # locates the package, runs nothing
        if spec is None or not spec.submodule_search_locations:
            return False
        for base in spec.submodule_search_locations:
            path = os.path.join(base, "core", "error.py")
            if os.path.isfile(path):
                break
        else:
            return False
        error_spec = importlib.util.spec_from_file_location(MODULE, path)
        if error_spec is None or error_spec.loader is None:
            return False
        module = importlib.util.module_from_spec(error_spec)
        sys.modules[MODULE] = module
        try:
            error_spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[MODULE]
            raise
        if not hasattr(module, "StdinNotImplementedError"):
            del sys.modules[MODULE]
            return False
        return True
    except Exception:
        return False
