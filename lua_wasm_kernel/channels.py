"""The kernel's shell and IOPub sockets, with fewer hand-offs than ipykernel's.

**IOPub** (`IOPub`). ipykernel hands every IOPub message to its
`IOPubThread`, which sends it from its own event loop. For a trivial cell
that is three hand-offs (busy, execute_input, idle), each a wake-up of that
thread and a GIL hand-over between it and the main thread; on this
project's 2-core machine they cost about 0.5 ms of a 2.4 ms round trip
(docs/BENCHMARKS.md, "Kernel latency").

Here a lock makes the one XPUB socket safe to use from any thread (a mutex
is the full memory barrier libzmq asks for when a socket changes threads),
and the caller sends at once: cell output, status and results from the main
thread; cell output that streams while a cell computes from the VM's watcher
thread (output_ring.py: its deliveries are serialized with the main
thread's, so stream order holds); status around control requests from the
control thread. XPUB sends
never block (a subscriber that falls behind loses messages, as with any
PUB socket).

Subscriptions arrive on the same socket: each new subscriber gets an
`iopub_welcome` (JEP 65), as ipykernel's IOPubThread sends, as its first
message. They are read when the socket's file descriptor wakes the main
event loop, and before and after every send (a send can swallow that
wake-up: libzmq's descriptor is edge-triggered, so its events are always
re-checked). While a cell runs the
main loop does not turn, so a client subscribing then is greeted at the
cell's next output or when it ends.

**Shell** (`ShellStream`). A ZMQStream queues what it is asked to send
until its event loop turns again; ipykernel then flushes the execute_reply
only after publishing `idle`. `ShellStream` sends a reply at once (the main
thread owns the socket: the app runs no shell-channel thread), so the
client reads the reply while the kernel is still publishing idle.
"""
from __future__ import annotations

import threading
from typing import Any

import zmq
from zmq.eventloop.zmqstream import ZMQStream


class ShellStream(ZMQStream):
    """A ZMQStream whose sends from its own loop's thread go out at once."""

    def __init__(self, socket: zmq.Socket, io_loop: Any = None) -> None:
        super().__init__(socket, io_loop)
        self._thread = threading.current_thread()  # the loop's thread: the app creates it there

    def send_multipart(self, msg: Any, flags: int = 0, copy: bool = True, track: bool = False,
                       callback: Any = None, **kwargs: Any) -> Any:
        if threading.current_thread() is not self._thread or callback is not None or self.sending():
            # Another thread, a send callback, or sends already queued: keep ZMQStream's order.
            return super().send_multipart(msg, flags=flags, copy=copy, track=track, callback=callback, **kwargs)
        self.socket.send_multipart(msg, flags=flags, copy=copy, track=track)
        # The send may have swallowed the descriptor's wake-up for a request that
        # came meanwhile (edge-triggered): if one is waiting, have the stream read it.
        if self.receiving() and self.socket.getsockopt(zmq.EVENTS) & zmq.POLLIN:
            self.io_loop.add_callback(self.flush, zmq.POLLIN)
        return None


class IOPub:
    """Stands where ipykernel's `iopub_socket` (a BackgroundSocket) stands: has `send_multipart`."""

    def __init__(self, socket: zmq.Socket, session: Any) -> None:
        self.socket: zmq.Socket | None = socket
        self.session = session
        self.lock = threading.Lock()
        self._loop: Any = None

    def start(self, io_loop: Any) -> None:
        """Reads subscriptions whenever the socket's descriptor wakes `io_loop` (the main loop)."""
        from tornado.ioloop import IOLoop

        self._loop = io_loop
        io_loop.add_handler(self.socket, self._on_events, IOLoop.READ)
        io_loop.add_callback(self._on_events)  # any that came before

    # -- sending (any thread)

    def send_multipart(self, msg_parts: Any, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            socket = self.socket
            if socket is None:
                return None  # closed at exit
            self._read_subscriptions(socket)  # a new subscriber is welcomed before anything else
            result = socket.send_multipart(msg_parts, *args, **kwargs)
            self._read_subscriptions(socket)  # and one that came during the send (edge-triggered)
            return result

    def send(self, msg: Any, *args: Any, **kwargs: Any) -> Any:
        return self.send_multipart([msg], *args, **kwargs)

    # -- subscriptions

    def _on_events(self, *_: Any) -> None:
        with self.lock:
            if self.socket is not None:
                self._read_subscriptions(self.socket)

    def _read_subscriptions(self, socket: zmq.Socket) -> None:
        """Greets new subscribers (lock held). Reading EVENTS also re-arms the descriptor."""
        while socket.getsockopt(zmq.EVENTS) & zmq.POLLIN:
            for frame in socket.recv_multipart(zmq.NOBLOCK):
                # b"\x01" + topic: subscribe; b"\x00" + topic: unsubscribe.
                if frame[:1] == b"\x01":
                    try:
                        topic = frame[1:].decode("utf-8")
                    except UnicodeDecodeError:
                        continue
                    self._welcome(socket, topic)

    def _welcome(self, socket: zmq.Socket, topic: str) -> None:
        """As ipykernel's IOPubThread._send_welcome_message."""
        msg = {
            "header": self.session.msg_header("iopub_welcome"),
            "parent_header": {},
            "metadata": {},
            "content": {"subscription": topic},
            "buffers": [],
        }
        parts = self.session.serialize(msg)
        if topic:
            parts = [topic.encode("utf-8"), *parts]
        socket.send_multipart(parts)

    def close(self) -> None:
        with self.lock:
            socket, self.socket = self.socket, None
        if socket is not None:
            if self._loop is not None:
                try:
                    self._loop.remove_handler(socket)
                except Exception:
                    pass
            socket.close()
