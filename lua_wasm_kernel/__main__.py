"""`python -m lua_wasm_kernel` launches the kernel; `... install` installs its spec."""
from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["install"]:
        from .install import main as install_main

        return install_main(argv[1:])
    from .app import LuaWasmKernelApp
    from .kernel import LuaWasmKernel

    LuaWasmKernelApp.launch_instance(argv=argv, kernel_class=LuaWasmKernel)
    return 0


if __name__ == "__main__":
    sys.exit(main())
