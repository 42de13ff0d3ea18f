"""The watcher: stops a running eval from any thread, and streams its output.

One long-lived thread per VM, woken by a condition, never one per eval. While
an eval runs it ticks every `TICK_SECONDS`:

- **Interrupt.** `interrupt()` (any thread) arms Lua's stop hook by writing
  into linear memory, the same data race `lua.c`'s SIGINT handler makes:
  `signals.interrupt = 1`, then on the running `lua_State` (`current_thread`)
  the hook function, `basehookcount = hookcount = 1`, the hook mask, then
  `trap = 1` in the nearest Lua `CallInfo`. The hook raises "interrupted!" at
  the next Lua instruction and stays armed, so `pcall` loops unwind too. The
  watcher re-arms on every tick (coroutine switches, races). The hook is
  armed for interrupts only (as `lua.c` replaces the hook on SIGINT).
- **Freed memory.** The addresses it writes through (the running coroutine,
  its `CallInfo` chain) are read while the VM runs, which may free them.
  Every read and write of linear memory here happens under `lock`, and the
  VM holds back the frees of blocks of those sizes (src/quarantine.zig)
  until its next `lw_host_output` call, which takes the same lock: a block
  is reused only after every tick that could have read its address ended.
- **Streaming.** Every tick, the watcher consumes the VM's output ring
  (output_ring.py) and delivers it: `on_output` then runs on this thread.
- **Escalation.** If the eval still runs `escalate_after` seconds after the
  interrupt (a long C call such as a backtracking pattern match, where no
  hook runs), the watcher makes the whole linear memory inaccessible
  (`mprotect(PROT_NONE)`). The next wasm load or store faults; wasmtime
  turns a fault inside wasm code into a trap, and the host rebuilds the
  instance. This costs nothing while unused (unlike epoch interruption).
  It is safe only because no host code touches linear memory while it is
  protected: the module is built without bulk memory (memory.copy/fill would
  run as wasmtime libcalls in host code, and the Runtime refuses such a
  module), and every host access goes through `LuaVM.read`/`write`, which
  hold `lock` and refuse once `poisoned`.

Only the main thread touches the wasmtime Store; this thread only reads and
writes raw memory through ctypes (the memory is fixed-size, so its base
never moves). A lock and a generation counter make an interrupt that arrives
while idle, or a tick left over from a finished eval, do nothing.
Protocol and layout: docs/ABI.md, "Interrupts and streaming".
"""
from __future__ import annotations

import ctypes
import logging
import sys
import threading
import time
import weakref
from typing import Mapping

from .output_ring import OutputRing

log = logging.getLogger(__name__)

TICK_SECONDS = 0.025
ESCALATE_AFTER_SECONDS = 1.0
# With no eval for this long, the thread ends; the next eval starts a new one
# (about 0.1 ms). Until then it keeps ticking, so back-to-back evals never pay
# for a wake-up, and an idle or discarded VM holds no thread.
IDLE_AFTER_SECONDS = 2.0
# Frames walked from L->ci to find the nearest Lua frame (past C frames).
CI_WALK_MAX = 32

_SIGNAL_INTERRUPT = 0  # offset in interrupt.Signals

_u32 = ctypes.c_uint32
_u16 = ctypes.c_uint16


class Escalated(Exception):
    """The watcher stopped the VM by force; the instance must be rebuilt."""


def _load_mprotect():  # type: ignore[no-untyped-def]
    if sys.platform == "win32":
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).mprotect
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn


_mprotect = _load_mprotect()
_PROT_NONE = 0
_PROT_READ_WRITE = 3  # PROT_READ | PROT_WRITE on Linux and macOS

ESCALATION_SUPPORTED = _mprotect is not None


class InterruptWatcher:
    """Interrupts, output flushes and escalation for one VM's evals."""

    def __init__(self, escalate_after: float | None = ESCALATE_AFTER_SECONDS, tick: float = TICK_SECONDS) -> None:
        self.escalate_after = escalate_after  # None: never stop by force
        self.tick = tick
        self.idle_after = IDLE_AFTER_SECONDS
        # Guards everything below, and memory access. Reentrant, so a Python
        # signal handler that calls interrupt() while the main thread holds it
        # (inside read(), say) cannot deadlock.
        self.lock = threading.RLock()
        # The thread sleeps in a timed acquire of this lock; releasing it (under
        # `lock`, and only while it is held) wakes the thread early. A bare lock
        # costs half the CPU per wake-up of a Condition, and it wakes 40 times a
        # second while a cell runs.
        self._wake = threading.Lock()
        self._wake.acquire()
        self.poisoned = False  # memory protected: read() and write() must refuse
        self._base = 0
        self._size = 0
        self._layout: Mapping[str, int] = {}
        self._gen = 0
        self._running = False
        self._interrupt_gen = 0  # generation an interrupt was asked for
        self._interrupt_at = 0.0
        self._armed_gen = 0  # generation whose memory the watcher wrote into
        self._escalation_failed_gen = 0
        self._in_host = 0  # host imports running (Python code, on the main thread)
        self._host_left_at = 0.0
        self._last_end = 0.0
        self._closed = False
        self._thread: threading.Thread | None = None
        self.escalations = 0  # counters, for tests and benchmarks
        self.arms = 0
        # Test-only: seconds to wait between reading the addresses and writing
        # through them, which widens the race the quarantine closes.
        self.race_window = 0.0
        self.output = OutputRing(self)

    # -- the VM's side (main thread)

    def attach(self, base: int, size: int, layout: Mapping[str, int], io_buffer: int, io_buffer_size: int) -> None:
        """A new instance: its memory's base address and size, interrupt layout and IO buffer."""
        # Lock order: the output's delivery lock, then `lock` (never the reverse).
        self.output.discard()
        with self.lock:
            if self._running:
                raise RuntimeError("attach() during an eval")
            self._base, self._size, self._layout = base, size, dict(layout)
            self.poisoned = False
            self.output.attach(layout, io_buffer, io_buffer_size)

    @property
    def memory_base(self) -> int:
        return self._base

    @property
    def memory_size(self) -> int:
        return self._size

    def begin(self) -> int:
        """An eval starts; returns its generation. Cheap: a lock, and a wake-up only after idling."""
        with self.lock:
            self._gen += 1
            self._running = True
            if self._thread is None:
                self._start()
            return self._gen

    def end(self) -> bool:
        """The eval returned or trapped. True if the memory had been protected."""
        with self.lock:
            self._running = False
            self._last_end = time.monotonic()
            if self.poisoned:
                self._protect(_PROT_READ_WRITE)
                self.poisoned = False
                return True
            if self._armed_gen == self._gen:
                self._disarm()
            return False

    def enter_host(self) -> None:
        """A host import starts: no escalation until it returns.

        Python code (waiting for input, sending output) is not stopped by
        force; it must end on its own (the kernel breaks input waits). After
        it returns, the eval gets the whole escalation delay again.
        """
        with self.lock:
            if self.poisoned:
                raise Escalated("the VM's memory is locked: the eval is being stopped by force")
            self._in_host += 1

    def leave_host(self) -> None:
        with self.lock:
            self._in_host -= 1
            self._host_left_at = time.monotonic()

    # -- any thread

    def interrupt(self, generation: int | None = None) -> bool:
        """Stops the running eval (only if it is `generation`, when given);
        True if one was running, else does nothing."""
        with self.lock:
            if not self._running or self._closed or self._size == 0:
                return False
            if generation is not None and generation != self._gen:
                return False
            if self._interrupt_gen != self._gen:
                self._interrupt_gen = self._gen
                self._interrupt_at = time.monotonic()
            if not self.poisoned:
                self._arm(_SIGNAL_INTERRUPT)
            self._notify()  # the thread re-arms and escalates from now on
            return True

    def close(self) -> None:
        with self.lock:
            self._closed = True
            self._notify()

    @property
    def interrupt_pending(self) -> bool:
        with self.lock:
            return self._running and self._interrupt_gen == self._gen

    # -- the thread

    def _start(self) -> None:
        self._thread = threading.Thread(
            target=_run, args=(weakref.ref(self),), name="lua-wasm-watcher", daemon=True
        )
        self._thread.start()

    def _notify(self) -> None:
        """Wakes the thread now (lock held)."""
        if self._wake.locked():
            self._wake.release()

    def _step(self) -> bool:
        """One wait and one tick; False when the thread should end."""
        with self.lock:
            timeout = self._timeout()
            if self._closed or timeout is None:
                self._thread = None  # idle: the next begin() starts a new one
                return False
        self._wake.acquire(timeout=timeout)  # a release wakes it early
        if self._running:  # a racy read: drain() checks again under the lock
            self.output.drain(on_watcher=True)
        with self.lock:
            if self._closed:
                self._thread = None
                return False
            self._tick()
            return True

    def _timeout(self) -> float | None:
        """Seconds until the next tick; None when idle long enough to end."""
        now = time.monotonic()
        if not self._running:
            return self.tick if now - self._last_end < self.idle_after else None
        if self._may_escalate():
            return max(0.0, min(self.tick, self._escalation_due() - now))
        return self.tick

    def _may_escalate(self) -> bool:
        """An interrupt stands, escalation is on, and nothing holds it back."""
        return (
            self._interrupt_gen == self._gen
            and self.escalate_after is not None
            and not self.poisoned
            and not self._in_host  # Python code runs: never stopped by force
            and self._escalation_failed_gen != self._gen
        )

    def _escalation_due(self) -> float:
        assert self.escalate_after is not None
        return max(self._interrupt_at, self._host_left_at) + self.escalate_after

    def _tick(self) -> None:
        if not self._running or self.poisoned or self._size == 0:
            return
        if self._interrupt_gen == self._gen:
            if self._may_escalate() and time.monotonic() >= self._escalation_due() and self._escalate():
                return
            self._arm(_SIGNAL_INTERRUPT)

    def _escalate(self) -> bool:
        """Protects the memory, so the VM traps at its next load or store."""
        if self._protect(_PROT_NONE):
            self.poisoned = True
            self.escalations += 1
            return True
        self._escalation_failed_gen = self._gen
        log.warning("cannot stop the VM by force on this platform; the eval keeps running")
        return False

    # -- raw memory (lock held, memory not protected)

    def _valid(self, addr: int, width: int) -> bool:
        return 0 < addr and addr + width <= self._size

    def _read_u32(self, addr: int) -> int:
        return _u32.from_address(self._base + addr).value

    def _write_u32(self, addr: int, value: int) -> None:
        _u32.from_address(self._base + addr).value = value

    def _arm(self, signal: int) -> None:
        """Sets the signal and arms the stop hook on the running lua_State.

        Lock held: the VM's quarantine relies on it (module docstring). The
        addresses are read first, then written through; a block freed in
        between is not reused before this returns.
        """
        lay = self._layout
        self._armed_gen = self._gen
        self.arms += 1
        self._write_u32(lay["signals_addr"] + signal, 1)
        L = self._read_u32(lay["current_thread_addr"])
        last = max(lay["off_hook"], lay["off_hookmask"], lay["off_basehookcount"], lay["off_hookcount"], lay["off_ci"])
        if not self._valid(L, last + 4):
            return
        ci = self._nearest_lua_frame(self._read_u32(L + lay["off_ci"]))
        if self.race_window:
            time.sleep(self.race_window)
        self._write_u32(L + lay["off_hook"], lay["hook_fn"])
        self._write_u32(L + lay["off_basehookcount"], 1)
        self._write_u32(L + lay["off_hookcount"], 1)
        self._write_u32(L + lay["off_hookmask"], lay["hook_mask"])
        # trap = 1 in the nearest Lua frame: Lua re-reads it on jumps and after
        # calls, so even `while true do end` notices. Skipped if L stopped
        # running meanwhile: lw_resume arms the thread it returns to.
        if ci and self._read_u32(lay["current_thread_addr"]) == L:
            self._write_u32(ci + lay["off_ci_trap"], 1)

    def _nearest_lua_frame(self, ci: int) -> int:
        """The first Lua frame from `ci` down its `previous` chain; 0 if none.

        A C frame's CallInfo holds other data where `trap` is (u.c.old_errfunc).
        """
        lay = self._layout
        span = max(lay["off_ci_trap"], lay["off_ci_previous"], lay["off_ci_callstatus"]) + 4
        for _ in range(CI_WALK_MAX):
            if not self._valid(ci, span):
                return 0
            if not _u16.from_address(self._base + ci + lay["off_ci_callstatus"]).value & lay["cist_c"]:
                return ci
            ci = self._read_u32(ci + lay["off_ci_previous"])
        return 0

    def _disarm(self) -> None:
        """After an eval: clear requests the watcher made after the VM's own cleanup."""
        lay = self._layout
        self._write_u32(lay["signals_addr"] + _SIGNAL_INTERRUPT, 0)
        L = self._read_u32(lay["current_thread_addr"])  # the main state between evals
        if self._valid(L, max(lay["off_hook"], lay["off_hookmask"]) + 4):
            if self._read_u32(L + lay["off_hook"]) == lay["hook_fn"]:
                self._write_u32(L + lay["off_hookmask"], 0)
                self._write_u32(L + lay["off_hook"], 0)

    def _protect(self, prot: int) -> bool:
        if _mprotect is None or self._size == 0:
            return False
        if _mprotect(self._base, self._size, prot) != 0:
            log.error("mprotect(%#x, %d, %d) failed: errno %d", self._base, self._size, prot, ctypes.get_errno())
            return False
        return True


class NoWatcher:
    """Stands in for InterruptWatcher where interrupts are not wanted (benchmarks)."""

    escalate_after = None
    poisoned = False
    escalations = 0
    arms = 0
    memory_base = 0
    memory_size = 0

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.output = OutputRing(self)  # type: ignore[arg-type]

    def attach(self, base: int, size: int, layout: Mapping[str, int], io_buffer: int, io_buffer_size: int) -> None:
        self.memory_base, self.memory_size = base, size
        self.output.attach(layout, io_buffer, io_buffer_size)

    def begin(self) -> int:
        return 0

    def end(self) -> bool:
        return False

    def interrupt(self, generation: int | None = None) -> bool:
        return False

    def enter_host(self) -> None:
        pass

    def leave_host(self) -> None:
        pass

    def close(self) -> None:
        pass


def _run(ref: "weakref.ReferenceType[InterruptWatcher]") -> None:
    """The thread's body: holds the watcher only weakly between ticks."""
    while True:
        watcher = ref()
        if watcher is None or not watcher._step():
            return
        del watcher
