"""The host's end of the output ring: consumes the VM's output, decodes it, delivers it.

The VM appends `print` and `io.write` output to a single-producer,
single-consumer ring in its IO buffer (src/output.zig) and advances
`write_index` after the bytes. The host consumes them here, from either
thread: on the watcher thread every tick while a cell computes (so a line
printed before a long computation shows at once), and on the VM's thread
when the VM calls `lw_host_output` (the ring is full, the stream changes,
before a host call, at the end of an eval). No Lua hook is involved, so a
cell's own debug hooks see exactly what stock Lua gives them.

Memory is read under the watcher's lock (which also refuses once escalation
protected the memory); deliveries are serialized by `_deliver_lock`, taken
first, so chunks reach `on_output` in the order the VM wrote them whichever
thread consumed them. Lock order: `_deliver_lock`, then the watcher's lock;
never `_deliver_lock` while holding the watcher's. Protocol: docs/ABI.md, "Interrupts and streaming".
"""
from __future__ import annotations

import codecs
import ctypes
import logging
import threading
from typing import TYPE_CHECKING, Callable, Mapping

from .abi import Stream

if TYPE_CHECKING:
    from .interrupt import InterruptWatcher

log = logging.getLogger(__name__)

OutputCallback = Callable[[Stream, str], None]

_RingWords = ctypes.c_uint32 * 3  # output.Ring: write_index, read_index, stream
_WRITE_INDEX, _READ_INDEX, _STREAM = 0, 1, 2
_MASK_U32 = 0xFFFF_FFFF


class OutputRing:
    """Consumes one VM's output ring; delivers decoded text to `on_output`."""

    def __init__(self, watcher: "InterruptWatcher") -> None:
        self._watcher = watcher
        self._deliver_lock = threading.Lock()
        self._ring = 0  # addresses in linear memory (0: not attached)
        self._words: ctypes.Array[ctypes.c_uint32] | None = None  # each index is one load or store
        self._buffer = 0
        self._capacity = 0
        self._active = False  # an eval runs: consume everything
        self.on_output: OutputCallback | None = None
        self._decoders: dict[Stream, codecs.IncrementalDecoder] = {}
        self.error: BaseException | None = None  # raised by on_output on the watcher thread
        self.drains_on_watcher = 0  # counters, for tests and benchmarks
        self.bytes_consumed = 0

    def attach(self, layout: Mapping[str, int], buffer: int, capacity: int) -> None:
        """A new instance: where its ring and IO buffer are (lock held by the caller)."""
        size = self._watcher.memory_size
        ring = layout["output_ring_addr"]
        if not (0 < ring and ring + 12 <= size and 0 < buffer and buffer + capacity <= size and capacity > 0):
            raise ValueError(f"the output ring ({ring:#x}, buffer {buffer:#x}+{capacity}) lies outside linear memory")
        self._ring, self._buffer, self._capacity = ring, buffer, capacity
        self._words = _RingWords.from_address(self._watcher.memory_base + ring)
        self._decoders = {}

    def detach(self) -> None:
        """The instance is about to be replaced: its memory must not be read any more."""
        with self._watcher.lock:
            self._words = None
            self._ring = self._buffer = self._capacity = 0

    def begin(self, on_output: OutputCallback | None) -> None:
        """An eval starts: its output goes to `on_output` (None: dropped)."""
        with self._deliver_lock:
            self.on_output = on_output
            self._decoders = {}
            self.error = None
            self._active = True

    def finish(self) -> None:
        """The eval ended: the decoders' tails go out; later output waits for the next eval."""
        with self._deliver_lock:
            try:
                self._raise_pending()
                for kind, decoder in self._decoders.items():
                    tail = decoder.decode(b"", final=True)
                    if tail and self.on_output is not None:
                        self.on_output(kind, tail)
            finally:
                self._decoders = {}
                self.on_output = None
                self._active = False

    def discard(self) -> None:
        """The instance is gone (trap, reset): nothing of its output is pending."""
        with self._deliver_lock:
            self._decoders = {}
            self.on_output = None
            self._active = False
            self.error = None

    def drain(self, on_watcher: bool = False) -> None:
        """Consumes what the ring holds and delivers it (any thread).

        On the VM's thread (the lw_host_output import) an error that
        `on_output` raised on the watcher thread is raised here, so it
        reaches the eval's caller as before, and the watcher does not stop
        the VM by force while `on_output` runs (it is Python code).
        """
        self._acquire_deliver_lock(on_watcher)
        try:
            if not on_watcher:
                self._raise_pending()
            chunk = self._take()
            if chunk is None:
                return
            kind, data = chunk
            if on_watcher:
                self.drains_on_watcher += 1
                try:
                    self._deliver(kind, data)
                except Exception as e:  # handed to the VM's thread at its next output call
                    self.error = e
                return
            self._watcher.enter_host()
            try:
                self._deliver(kind, data)
            finally:
                self._watcher.leave_host()
        finally:
            self._deliver_lock.release()

    def _acquire_deliver_lock(self, on_watcher: bool) -> None:
        """While the watcher thread delivers, the VM waits here in host code,
        where the watcher must not stop it by force."""
        if on_watcher:
            self._deliver_lock.acquire()
        elif not self._deliver_lock.acquire(blocking=False):
            self._watcher.enter_host()
            try:
                self._deliver_lock.acquire()
            finally:
                self._watcher.leave_host()

    def _raise_pending(self) -> None:
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def _take(self) -> tuple[Stream, bytes] | None:
        """Copies the pending bytes out and frees their room (both locks held)."""
        watcher = self._watcher
        with watcher.lock:
            words = self._words
            if watcher.poisoned or words is None or self.error is not None:
                return None
            base = watcher.memory_base
            # write_index first: the bytes and the stream it covers were written before it.
            written = words[_WRITE_INDEX]
            read = words[_READ_INDEX]
            if written == read:
                return None
            stream = words[_STREAM]
            pending = (written - read) & _MASK_U32
            if pending == 0:
                return None
            if not self._active and pending < self._capacity:
                return None  # between evals (a finalizer in lw_gc): keep it for the next cell
            if pending > self._capacity or stream not in (Stream.STDOUT, Stream.STDERR):
                log.error("the VM's output ring is inconsistent (%d bytes pending, stream %d): dropped", pending, stream)
                words[_READ_INDEX] = written
                return None
            start = read % self._capacity
            first = min(pending, self._capacity - start)
            data = ctypes.string_at(base + self._buffer + start, first)
            if first < pending:
                data += ctypes.string_at(base + self._buffer, pending - first)
            words[_READ_INDEX] = written
            self.bytes_consumed += pending
            return Stream(stream), data

    def _deliver(self, kind: Stream, data: bytes) -> None:
        if not self._active or self.on_output is None:
            return  # no eval, or a silent one: dropped
        decoder = self._decoders.get(kind)
        if decoder is None:
            decoder = self._decoders[kind] = codecs.getincrementaldecoder("utf-8")("replace")
        text = decoder.decode(data)
        if text:
            self.on_output(kind, text)
