"""The Jupyter kernel: translates kernel messages to VM calls and back."""
from __future__ import annotations

import logging
from typing import Any, Callable

from traitlets import Any as AnyTrait
from traitlets import Float

from ._no_ipython import preload_ipython_error

preload_ipython_error()  # first: kernelbase would import all of IPython (see _no_ipython.py)

from ipykernel.kernelbase import Kernel  # noqa: E402

from . import LUA_VERSION, __version__, introspect
from .abi import Status, Stream
from .config import ENV_MEMORY_LIMIT, KernelSettings
from .display import Display
from .history import History
from .modules import ModuleFinder
from .persistence import Checkpoints, kernel_id_from_connection_file, store_folder
from .stdin import InputReader
from .vm import EvalAborted, EvalResult, LuaVM

log = logging.getLogger(__name__)

ERROR_NAMES = {
    Status.SYNTAX_ERROR: "SyntaxError",
    Status.RUNTIME_ERROR: "LuaError",
    Status.OUT_OF_MEMORY: "MemoryError",
    Status.INTERRUPTED: "KeyboardInterrupt",  # nbval relies on this name
    Status.BAD_INPUT: "ValueError",
    Status.TRAPPED: "VMStopped",  # stopped by force or trapped: rolled back, or reset
}


class LuaWasmKernel(KernelSettings, Kernel):
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

    # ipykernel sleeps this long (0.5 ms) after each execute "to help output
    # synchronization" of its OutStreams. We have none: our output is sent to
    # IOPub during the cell, before the reply (tests/test_kernel_protocol.py and
    # test_kernel_app.py check the order). A configurable trait of Kernel, private
    # by its name.
    _execute_sleep = Float(0.0).tag(config=True)
    # Kernel declares Instance("IPython.core.profiledir.ProfileDir"): traitlets
    # resolves that name, importing all of IPython, when the kernel is created.
    profile_dir = AnyTrait(None)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.vm = LuaVM(
            memory_bytes=self.memory_limit,
            init_scripts=[introspect.init_script()],
            rollback_bytes_max=self.rollback_memory_max,
        )
        # Host functions behind display, help, io.read and require.
        self.rich_output = Display(self._send_iopub)
        self.rich_output.register(self.vm)
        ModuleFinder().register(self.vm)
        self.vm.files.configure(self.file_access.lower())  # io over the notebook's folder (files.py)
        # External tables on disk and whole-VM snapshots (persistence.py, snapshot.py).
        connection_file = getattr(self.parent, "connection_file", "") or ""
        self.checkpoints = Checkpoints(
            self.vm,
            store_folder(self.checkpoint_dir, store_name=self.store_name),
            restore=self.restore_snapshot,
            kernel_id=kernel_id_from_connection_file(connection_file),
        )
        watcher = getattr(self.vm, "watcher", None)
        pending = (lambda: watcher.interrupt_pending) if watcher is not None else None
        self.stdin_reader = InputReader(self, pending)
        self.stdin_reader.register(self.vm)
        if watcher is not None:
            watcher.escalate_after = self.interrupt_escalation_delay
        self.history = History(self.history_file or ":memory:")
        self.cell_sources: dict[str, str] = {}  # chunk name -> code, for inspect's source
        self._next_count = 1  # the number the next stored cell gets, as IPython counts
        self._hidden_count = 0  # cells run without a number: silent or store_history=False

    @property
    def banner(self) -> str:  # type: ignore[override]
        return (
            f"Lua {LUA_VERSION} in WebAssembly (lua-wasm {__version__}), "
            f"memory limit {_format_bytes(self.memory_limit)}"
        )

    @property
    def kernel_info(self) -> dict[str, Any]:  # type: ignore[override]
        # As Kernel.kernel_info, without importing ipykernel.debugger (IPython and
        # debugpy: hundreds of ms on the first kernel_info_request) to advertise a
        # Python debugger this kernel does not have.
        from ipykernel import kernel_protocol_version

        features = ["kernel subshells"] if self.shell_channel_thread is not None else []
        return {
            "protocol_version": kernel_protocol_version,
            "implementation": self.implementation,
            "implementation_version": self.implementation_version,
            "language_info": self.language_info,
            "banner": self.banner,
            "help_links": self.help_links,
            "supported_features": features,
        }

    @property  # type: ignore[override]
    def execution_count(self) -> int:
        """The number of the next stored cell (what execute_input shows)."""
        return self._next_count

    @execution_count.setter
    def execution_count(self, value: int) -> None:
        pass  # the base class adds 1 for every non-silent cell; we count only stored ones

    # Interrupts come as messages (kernel.json: interrupt_mode "message"), handled by
    # interrupt_request below. ipykernel would install default_int_handler around each
    # handler: a stray SIGINT would then surface as a KeyboardInterrupt once wasm
    # returns, and the cell would get no reply. Keep ipykernel's SIG_IGN instead.
    def pre_handler_hook(self) -> None:
        pass

    def post_handler_hook(self) -> None:
        pass

    def _send_iopub(self, msg_type: str, content: dict[str, Any]) -> None:
        self.send_response(self.iopub_socket, msg_type, content)

    def _send_stderr(self, text: str) -> None:
        self._send_stream(Stream.STDERR, text)

    def _send_stream(self, stream: Stream, text: str) -> None:
        name = "stderr" if stream == Stream.STDERR else "stdout"
        self.send_response(self.iopub_socket, "stream", {"name": name, "text": text})

    async def do_execute(
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
        try:
            return self._execute(code, silent, store_history, allow_stdin)
        except Exception as e:  # noqa: BLE001 -- e.g. the history's disk is full: still a reply
            log.exception("internal error after running a cell")
            content = {
                "ename": "InternalError",
                "evalue": f"lua-wasm internal error: {type(e).__name__}: {e}; the kernel goes on (details in its log)",
                "traceback": [],
            }
            content["traceback"] = [content["evalue"]]
            if not silent:
                try:
                    self.send_response(self.iopub_socket, "error", content)
                except Exception:  # noqa: BLE001 -- the reply below still goes out
                    log.exception("cannot send the error message")
            return {"status": "error", "execution_count": self._next_count - 1, "payload": [], **content}

    def _execute(self, code: str, silent: bool, store_history: bool, allow_stdin: bool) -> dict[str, Any]:
        """One execute_request: the cell, its messages on IOPub and its reply's content."""
        count = self._next_count
        stored = store_history and not silent
        if stored:
            chunk_name = f"[cell {count}]"
        else:
            self._hidden_count += 1
            chunk_name = f"[hidden {self._hidden_count}]"
        self.cell_sources[chunk_name] = code
        self._allow_stdin = allow_stdin
        try:
            result = self._run_cell(code, chunk_name, silent, allow_stdin)
        except Exception as e:  # noqa: BLE001 -- every request gets its reply
            result = self._internal_error(e)
        self.stdin_reader.allowed = False
        payload = self.rich_output.payloads
        # As in IPython: a stored cell takes its number even if it fails; the reply of
        # an unstored one carries the last number taken.
        reply_count = count if stored else count - 1
        if stored:
            self._next_count += 1
        if not result.ok:
            if stored:
                self.history.store(count, code)
            if result.status == Status.OUT_OF_MEMORY:
                result.error = f"{result.error or 'not enough memory'}; {self._memory_hint()}"
            content = {
                "ename": result.ename or ERROR_NAMES.get(result.status, "LuaError"),
                "evalue": result.error or "",
                "traceback": [line for line in [result.error or "", result.traceback or ""] if line],
            }
            if not silent:
                self.send_response(self.iopub_socket, "error", content)
            return {"status": "error", "execution_count": reply_count, "payload": payload, **content}
        text = "\t".join(result.display) if result.display else None
        if stored:
            self.history.store(count, code, text)
        if text is not None and not silent:
            self.send_response(
                self.iopub_socket,
                "execute_result",
                {"execution_count": count, "data": {"text/plain": text}, "metadata": {}},
            )
        return {"status": "ok", "execution_count": reply_count, "payload": payload, "user_expressions": {}}

    def _memory_hint(self) -> str:
        """How to raise the memory limit, for an out-of-memory error."""
        return (
            f"the VM's memory limit is {_format_bytes(self.memory_limit)}: raise it with the environment "
            f"variable {ENV_MEMORY_LIMIT} (e.g. {ENV_MEMORY_LIMIT}=16M in the kernelspec's env) or the "
            "setting c.LuaWasmKernel.memory_limit / --LuaWasmKernel.memory_limit (bytes), then restart the kernel"
        )

    def _run_cell(self, code: str, chunk_name: str, silent: bool, allow_stdin: bool) -> EvalResult:
        """Runs one cell with the kernel's per-cell steps around it."""
        self.stdin_reader.begin(allowed=allow_stdin)
        self.rich_output.begin(enabled=not silent)
        self.checkpoints.begin_cell(None if silent else self._send_stderr)
        result = self.vm.eval(code, chunk_name, None if silent else self._send_stream)
        self.checkpoints.end_cell(result.ok)  # saves changed external tables, takes snapshots
        return result

    def _internal_error(self, error: Exception) -> EvalResult:
        """A failure of the kernel itself (not of the cell's Lua code) as the cell's error.

        The VM rolled its state back if the failure came out of a running eval
        (vm.py, _after_trap); the kernel goes on with the next request.
        """
        log.exception("internal error while running a cell")
        try:
            self.checkpoints.end_cell(False)  # save the tables the cell changed
        except Exception:  # noqa: BLE001
            log.exception("the checkpoint step after an internal error failed")
        what = str(error) if isinstance(error, EvalAborted) else f"{type(error).__name__}: {error}"
        evalue = f"lua-wasm internal error: {what}; the kernel goes on (details in its log)"
        return EvalResult(Status.TRAPPED, error=evalue, ename="InternalError")

    @staticmethod
    def _guarded(what: str, handler: Callable[[], dict[str, Any]], fallback: dict[str, Any]) -> dict[str, Any]:
        """`handler`'s reply, or `fallback` (logged) if it fails: never no reply."""
        try:
            return handler()
        except Exception:  # noqa: BLE001 -- every request gets its reply
            log.exception("internal error in the %s handler", what)
            return fallback

    # The modules of complete, inspect and is_complete load on first use: cold start.
    async def do_complete(self, code: str, cursor_pos: int) -> dict[str, Any]:
        def handler() -> dict[str, Any]:
            from .complete import complete

            return complete(self.vm, code, cursor_pos)

        empty = {"status": "ok", "matches": [], "cursor_start": cursor_pos, "cursor_end": cursor_pos, "metadata": {}}
        return self._guarded("complete", handler, empty)

    async def do_inspect(
        self, code: str, cursor_pos: int, detail_level: int = 0, omit_sections: Any = ()
    ) -> dict[str, Any]:
        def handler() -> dict[str, Any]:
            from .inspect import inspect

            return inspect(self.vm, code, cursor_pos, detail_level, self.cell_sources)

        return self._guarded("inspect", handler, {"status": "ok", "found": False, "data": {}, "metadata": {}})

    async def do_is_complete(self, code: str) -> dict[str, Any]:
        def handler() -> dict[str, Any]:
            from .is_complete import is_complete

            return is_complete(self.vm, code)

        return self._guarded("is_complete", handler, {"status": "unknown"})

    async def do_history(
        self,
        hist_access_type: str,
        output: bool,
        raw: bool,
        session: int | None = None,
        start: int | None = None,
        stop: int | None = None,
        n: int | None = None,
        pattern: str | None = None,
        unique: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        def handler() -> dict[str, Any]:
            if hist_access_type == "tail":
                entries = self.history.tail(10 if n is None else n, output=output)
            elif hist_access_type == "range":
                entries = self.history.range(session or 0, 1 if start is None else start, stop, output=output)
            elif hist_access_type == "search":
                entries = self.history.search(pattern or "*", n=n, unique=unique, output=output)
            else:
                entries = []
            return {"status": "ok", "history": entries}

        return self._guarded("history", handler, {"status": "ok", "history": []})

    async def interrupt_request(self, stream: Any, ident: Any, parent: Any) -> None:
        # With interrupt_mode "message" this runs on the control thread while the
        # cell runs on the main thread: stop the VM directly (thread-safe; a no-op
        # when idle), no signal needed.
        self.vm.interrupt()
        self.session.send(stream, "interrupt_reply", {"status": "ok"}, parent, ident=ident)

    async def do_shutdown(self, restart: bool) -> dict[str, Any]:
        def handler() -> dict[str, Any]:
            self.history.close()
            return {"status": "ok", "restart": restart}

        return self._guarded("shutdown", handler, {"status": "ok", "restart": restart})


def _format_bytes(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"
