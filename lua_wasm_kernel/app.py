"""The kernel application: ipykernel's, reading our own config file.

Settings go in `lua_wasm_kernel_config.py` (or `.json`) in any Jupyter config
directory (`jupyter --paths`), e.g. `c.LuaWasmKernel.memory_limit = 16 * 2**20`.
"""
from __future__ import annotations

from ipykernel.kernelapp import IPKernelApp


class LuaWasmKernelApp(IPKernelApp):
    name = "lua-wasm-kernel"  # so the config file is lua_wasm_kernel_config.py

    def init_config_files(self) -> None:
        super().init_config_files()
        from jupyter_core.paths import jupyter_config_path

        # traitlets gives earlier directories priority: the user's Jupyter config first.
        self.config_file_paths[:0] = jupyter_config_path()
