"""The real kernel with faults injected into its Python side, for the tests
that check every request still gets its reply (tests/test_kernel_protocol.py).

Run as the argv of a test kernelspec (`fault_kernelspec()`); nothing here is
imported by the package. A cell or request whose code holds one of the
markers below fails inside the kernel, as a bug in the host would.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

FAIL_EVAL = "--fault:eval"  # LuaVM.eval raises before the VM runs
FAIL_OUTPUT = "--fault:output"  # the output callback raises while the VM runs
FAIL_REQUEST = "--fault:request"  # complete, inspect, is_complete and history raise
FAIL_HISTORY = "--fault:history"  # storing the cell in the history raises (after the eval)
FAULT_KERNEL_NAME = "lua-wasm-faults"


def fault_kernelspec() -> str:
    """A kernelspec running this file instead of `python -m lua_wasm_kernel`."""
    from kernel_env import spec_dir

    dest = spec_dir(FAULT_KERNEL_NAME)
    if not dest.exists():
        shutil.copytree(spec_dir(), dest)
        spec = json.loads((dest / "kernel.json").read_text())
        spec["argv"] = [sys.executable, str(Path(__file__).resolve()), "-f", "{connection_file}"]
        (dest / "kernel.json").write_text(json.dumps(spec, indent=2))
    return FAULT_KERNEL_NAME


def main() -> None:
    from lua_wasm_kernel import complete, inspect, is_complete
    from lua_wasm_kernel.app import LuaWasmKernelApp
    from lua_wasm_kernel.history import History
    from lua_wasm_kernel.kernel import LuaWasmKernel
    from lua_wasm_kernel.vm import LuaVM

    real_eval = LuaVM.eval

    def eval(self: LuaVM, code: Any, chunk_name: str = "=stdin", on_output: Any = None, **kwargs: Any) -> Any:
        if isinstance(code, str) and FAIL_EVAL in code:
            raise RuntimeError("injected failure before the eval")
        if isinstance(code, str) and FAIL_OUTPUT in code and on_output is not None:
            def on_output(stream: Any, text: str) -> None:
                raise RuntimeError("injected failure in the output callback")
        return real_eval(self, code, chunk_name, on_output, **kwargs)

    LuaVM.eval = eval  # type: ignore[method-assign]

    def failing(real: Any) -> Any:
        def wrapper(vm: Any, code: str, *args: Any, **kwargs: Any) -> Any:
            if FAIL_REQUEST in code:
                raise RuntimeError("injected failure in a request handler")
            return real(vm, code, *args, **kwargs)

        return wrapper

    for module, name in ((complete, "complete"), (inspect, "inspect"), (is_complete, "is_complete")):
        setattr(module, name, failing(getattr(module, name)))
    real_search = History.search

    def search(self: History, pattern: str, *args: Any, **kwargs: Any) -> Any:
        if FAIL_REQUEST in pattern:
            raise RuntimeError("injected failure in the history handler")
        return real_search(self, pattern, *args, **kwargs)

    History.search = search  # type: ignore[method-assign]
    real_store = History.store

    def store(self: History, count: int, code: str, *args: Any) -> Any:
        if FAIL_HISTORY in code:
            raise RuntimeError("injected failure in the history")
        return real_store(self, count, code, *args)

    History.store = store  # type: ignore[method-assign]
    LuaWasmKernelApp.launch_instance(argv=sys.argv[1:], kernel_class=LuaWasmKernel)


if __name__ == "__main__":
    main()
