"""Standard input for Lua: the host functions "input" and "input_epoch"
behind io.stdin (src/files.zig), one input_request per line through
ipykernel's raw_input.

An interrupt while the frontend waits for the user ends the wait: the VM's
interrupt machinery only marks the eval as interrupted, so the wait polls
that mark and breaks ipykernel's input loop with a KeyboardInterrupt.
"""
from __future__ import annotations

import contextlib
import signal
import threading
import _thread
from typing import TYPE_CHECKING, Any, Callable, Iterator

from .hostcall import HostCallError

if TYPE_CHECKING:
    from .vm import LuaVM

NO_INPUT_MESSAGE = "this frontend does not allow input"
INTERRUPT_POLL_SECONDS = 0.05


class InputReader:
    """Reads lines from the frontend of `kernel` (an ipykernel Kernel)."""

    def __init__(self, kernel: Any, interrupt_pending: Callable[[], bool] | None = None) -> None:
        self.kernel = kernel
        self.interrupt_pending = interrupt_pending or (lambda: False)
        self.allowed = False
        # Counts executions: input typed ahead for one cell is not read by the next.
        self.epoch = 0

    def register(self, vm: LuaVM) -> None:
        vm.register_host_function("input", self)
        vm.register_host_function("input_epoch", lambda: self.epoch)

    def begin(self, allowed: bool) -> None:
        """An execution starts; `allowed` is its execute_request's allow_stdin."""
        self.allowed = allowed
        self.epoch += 1

    def __call__(self, prompt: Any = "", password: Any = False) -> str | None:
        """One line, without its newline; None at end of input."""
        if not self.allowed:
            raise HostCallError(NO_INPUT_MESSAGE)
        prompt = prompt.decode("utf-8", "replace") if isinstance(prompt, bytes) else str(prompt or "")
        read = self.kernel.getpass if password else self.kernel.raw_input
        with _interruptible(self.interrupt_pending):
            try:
                return read(prompt)
            except EOFError:
                return None
            except Exception as e:  # StdinNotImplementedError: the frontend said no
                if type(e).__name__ == "StdinNotImplementedError":
                    raise HostCallError(NO_INPUT_MESSAGE) from None
                raise


@contextlib.contextmanager
def _interruptible(pending: Callable[[], bool]) -> Iterator[None]:
    """Lets an interrupt raise KeyboardInterrupt in the main thread while waiting."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    done = threading.Event()

    def watch() -> None:
        while not done.wait(INTERRUPT_POLL_SECONDS):
            if pending():
                _thread.interrupt_main()
                return

    watcher = threading.Thread(target=watch, name="lua-wasm-input-interrupt", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        try:
            done.set()
        finally:
            signal.signal(signal.SIGINT, previous)
        watcher.join()
