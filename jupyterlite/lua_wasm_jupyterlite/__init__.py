"""Lua 5.4 (WASM) for JupyterLite: a prebuilt extension whose kernel runs lua.wasm in a Web Worker."""
from __future__ import annotations

__version__ = "0.1.0"


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "@lua-wasm/jupyterlite-kernel"}]
