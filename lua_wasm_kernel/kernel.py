"""The Jupyter kernel: translates kernel messages to VM calls and back."""
from __future__ import annotations

from typing import Any

from ipykernel.kernelbase import Kernel
from traitlets import Int

from . import LUA_VERSION, __version__
from .abi import MEMORY_SIZE_DEFAULT_BYTES, Status, Stream
from .vm import LuaVM

ERROR_NAMES = {
    Status.SYNTAX_ERROR: "SyntaxError",
    Status.RUNTIME_ERROR: "LuaError",
    Status.OUT_OF_MEMORY: "MemoryError",
    Status.INTERRUPTED: "KeyboardInterrupt",  # nbval relies on this name
    Status.BAD_INPUT: "ValueError",
    Status.TRAPPED: "VMReset",
}


class LuaWasmKernel(Kernel):
    implementation = "lua-wasm"
    implementation_version = __version__
    language = "lua"
    language_version = LUA_VERSION
    language_info = {
        "name": "lua",
        "version": LUA_VERSION,
        "mimetype": "text/x-lua",
        "file_extension": ".lua",
        "codemirror_mode": "lua",
        "pygments_lexer": "lua",
    }
    help_links = [
        {"text": "Lua 5.4 Reference Manual", "url": "https://www.lua.org/manual/5.4/"},
        {"text": "Programming in Lua", "url": "https://www.lua.org/pil/"},
    ]

    memory_limit = Int(
        MEMORY_SIZE_DEFAULT_BYTES, config=True, help="Bytes of linear memory of the Lua VM (a multiple of 64 KiB)"
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.vm = LuaVM(memory_bytes=self.memory_limit)

    @property
    def banner(self) -> str:  # type: ignore[override]
        return (
            f"Lua {LUA_VERSION} in WebAssembly (lua-wasm {__version__}), "
            f"memory limit {self.memory_limit // 1024} KiB"
        )

    def _send_stream(self, stream: Stream, text: str) -> None:
        name = "stderr" if stream == Stream.STDERR else "stdout"
        self.send_response(self.iopub_socket, "stream", {"name": name, "text": text})

    def do_execute(
        self,
        code: str,
        silent: bool,
        store_history: bool = True,
        user_expressions: dict | None = None,
        allow_stdin: bool = False,
        *,
        cell_meta: Any = None,
        cell_id: Any = None,
    ) -> dict[str, Any]:
        on_output = None if silent else self._send_stream
        result = self.vm.eval(code, f"[cell {self.execution_count}]", on_output)
        if not result.ok:
            content = {
                "ename": ERROR_NAMES.get(result.status, "LuaError"),
                "evalue": result.error or "",
                "traceback": [line for line in [result.error or "", result.traceback or ""] if line],
            }
            if not silent:
                self.send_response(self.iopub_socket, "error", content)
            return {"status": "error", "execution_count": self.execution_count, **content}
        if result.display and not silent:
            self.send_response(
                self.iopub_socket,
                "execute_result",
                {
                    "execution_count": self.execution_count,
                    "data": {"text/plain": "\t".join(result.display)},
                    "metadata": {},
                },
            )
        return {"status": "ok", "execution_count": self.execution_count, "payload": [], "user_expressions": {}}
