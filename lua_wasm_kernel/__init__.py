"""lua-wasm: a Jupyter kernel for Lua 5.4 running inside WebAssembly."""

__version__ = "0.1.0"
LUA_VERSION = "5.4.8"
