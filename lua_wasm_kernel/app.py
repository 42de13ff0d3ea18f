"""The kernel application: starts our ipykernel `Kernel` subclass, without IPython.

Settings go in `lua_wasm_kernel_config.py` (or `.json`) in any Jupyter config
directory (`jupyter --paths`), e.g. `c.LuaWasmKernel.memory_limit = 16 * 2**20`.

Why not ipykernel's `IPKernelApp`: it is built on IPython's application and
shell classes, and importing it costs about 250-400 ms of IPython (and
prompt_toolkit) on this project's machine, over the 250 ms cold-start goal
(docs/BENCHMARKS.md, "Kernel latency"). A Lua kernel runs no Python code, so
this app does only what `IPKernelApp.initialize` does for such a kernel, with
ipykernel's own pieces (`Heartbeat`, `IOPubThread`, `ControlThread`, the
parent poller) and jupyter_client's connection file and `Session`:

- **No shell-channel thread** (so no kernel subshells: one Lua state runs
  one cell at a time anyway). Shell messages are read by the main thread's
  event loop, the path ipykernel's `Kernel.start` takes when
  `shell_channel_thread` is None. This saves two thread hand-offs per
  request.
- **sys.stdout and sys.stderr are left alone**: cell output goes from the VM
  to IOPub directly (`LuaWasmKernel._send_stream`), never through them. So no
  `OutStream`, no thread capturing file descriptors 1 and 2, and the
  flushes ipykernel does around every request are plain file flushes
  instead of waits for the IOPub thread. Python warnings and logs of the
  kernel itself go to the kernel's stderr (the Jupyter server's log).
- **No IOPub thread**: IOPub messages are sent by the thread that
  publishes them, under a lock (channels.py), instead of being handed to
  ipykernel's `IOPubThread`; this saves three hand-offs per cell. Replies
  on the shell socket go out at once too, not at the loop's next turn.
- No debugger sockets, no display hook, no pdb patching, no GUI loop.

The command line is IPKernelApp's for what a kernelspec or a manager uses:
`-f CONNECTION_FILE`, `--ip`, `--transport`, `--shell`/`--iopub`/`--stdin`/
`--control`/`--hb` ports, `--Session.*`, `--LuaWasmKernel.*`, `--debug`,
`--log-level`.
"""
from __future__ import annotations

import atexit
import errno
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

import zmq
from jupyter_client.connect import ConnectionFileMixin
from jupyter_client.session import Session, session_aliases, session_flags
from traitlets import Bytes, Integer, Type, Unicode, default
from traitlets.config import Application, catch_config_error

CONFIG_FILE_NAME = "lua_wasm_kernel_config"

aliases: dict[str, Any] = {
    **Application.aliases,
    **session_aliases,
    "f": "LuaWasmKernelApp.connection_file",
    "ip": "LuaWasmKernelApp.ip",
    "transport": "LuaWasmKernelApp.transport",
    "hb": "LuaWasmKernelApp.hb_port",
    "shell": "LuaWasmKernelApp.shell_port",
    "iopub": "LuaWasmKernelApp.iopub_port",
    "stdin": "LuaWasmKernelApp.stdin_port",
    "control": "LuaWasmKernelApp.control_port",
}
flags: dict[str, Any] = {**Application.flags, **session_flags}


class LuaWasmKernelApp(Application, ConnectionFileMixin):
    name = "lua-wasm-kernel"
    description = "The lua-wasm Jupyter kernel: Lua 5.4 in WebAssembly."
    aliases = aliases
    flags = flags

    kernel_class = Type(
        "lua_wasm_kernel.kernel.LuaWasmKernel",
        klass="ipykernel.kernelbase.Kernel",
        help="The Kernel subclass to run.",
    ).tag(config=True)
    connection_dir = Unicode()
    parent_handle = Integer(
        int(os.environ.get("JPY_PARENT_PID") or 0),
        help="Exit when this process (the kernel's parent) is gone; 0 for never.",
    ).tag(config=True)
    # CurveZMQ keys, set by load_connection_info when the manager provisioned them.
    curve_publickey = Bytes(allow_none=True, default_value=None)
    curve_secretkey = Bytes(allow_none=True, default_value=None)

    classes = [Session]
    kernel: Any = None
    heartbeat: Any = None
    iopub: Any = None
    control_thread: Any = None
    poller: Any = None

    def get_default_logging_config(self) -> dict[str, Any]:
        # traitlets sets the app's logger to DEBUG and filters in the handler, so
        # each of ipykernel's several log.debug calls per request builds a log
        # record (stack walk included) only to drop it. Let the logger filter.
        # (`c.LuaWasmKernelApp.logging_config` can still change the level.)
        config = super().get_default_logging_config()
        logger = config.get("loggers", {}).get(type(self).__name__)
        if logger is not None:
            logger["level"] = logging.getLevelName(self.log_level)
        return config

    @default("connection_dir")
    def _default_connection_dir(self) -> str:
        from jupyter_core.paths import jupyter_runtime_dir

        return jupyter_runtime_dir()

    @catch_config_error
    def initialize(self, argv: list[str] | None = None) -> None:
        # The kernel's settings show in --help-all and work as --LuaWasmKernel.x=... .
        self.classes = [type(self), self.kernel_class, Session]
        super().initialize(argv)
        self.load_config_files()
        self.init_connection_file()
        self.init_poller()
        self.init_sockets()
        self.init_heartbeat()
        self.write_connection_file()
        self.log.info("To connect another client to this kernel, use: --existing %s", self.connection_file)
        # Interrupts come as messages (kernel.json: interrupt_mode "message");
        # like ipykernel, ignore a stray SIGINT (a Ctrl-C in the server's terminal).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        self.init_kernel()

    def load_config_files(self) -> None:
        """lua_wasm_kernel_config.py/.json from the Jupyter config path; the user's first."""
        from jupyter_core.paths import jupyter_config_path

        # traitlets gives earlier directories priority.
        self.load_config_file(CONFIG_FILE_NAME, path=jupyter_config_path())

    # -- connection file (as IPKernelApp)

    @property
    def abs_connection_file(self) -> str:
        if Path(self.connection_file).name == self.connection_file and self.connection_dir:
            return str(Path(self.connection_dir) / self.connection_file)
        return self.connection_file

    def init_connection_file(self) -> None:
        from traitlets.utils import filefind

        if not self.connection_file:
            self.connection_file = f"kernel-{os.getpid()}.json"
        try:
            self.connection_file = filefind(self.connection_file, [".", self.connection_dir])
        except OSError:
            # Not there: this kernel picks the ports, writes the file and removes it at exit.
            Path(self.abs_connection_file).parent.mkdir(mode=0o700, exist_ok=True, parents=True)
            atexit.register(self.cleanup_connection_file)
            return
        try:
            self.load_connection_file()
        except Exception:
            self.log.error("Failed to load connection file: %r", self.connection_file, exc_info=True)
            self.exit(1)

    def write_connection_file(self, **kwargs: Any) -> None:
        """Writes the file if it lacks ports this kernel picked (it was absent, or had 0s)."""
        from jupyter_client.connect import write_connection_file

        cf = self.abs_connection_file
        info: dict[str, Any] = dict(
            ip=self.ip, key=self.session.key, transport=self.transport,
            shell_port=self.shell_port, stdin_port=self.stdin_port, hb_port=self.hb_port,
            iopub_port=self.iopub_port, control_port=self.control_port,
        )
        if self.curve_publickey is not None:
            info.update(curve_publickey=self.curve_publickey, curve_secretkey=self.curve_secretkey)
        if Path(cf).exists():
            from ipykernel.connect import get_connection_info

            existing = get_connection_info(cf, unpack=True)
            assert isinstance(existing, dict)
            info = dict(existing, **info)
            if info == existing:
                return
        write_connection_file(cf, **info)

    def cleanup_connection_file(self) -> None:
        try:
            Path(self.abs_connection_file).unlink()
        except OSError:
            pass
        self.cleanup_ipc_files()

    # -- sockets and threads (as IPKernelApp, minus the shell-channel thread)

    def init_poller(self) -> None:
        if sys.platform == "win32":
            from ipykernel.parentpoller import ParentPollerWindows

            interrupt = int(os.environ.get("JPY_INTERRUPT_EVENT") or 0)
            if interrupt or self.parent_handle:
                self.poller = ParentPollerWindows(interrupt, self.parent_handle)
        elif self.parent_handle and self.parent_handle != 1:
            from ipykernel.parentpoller import ParentPollerUnix

            self.poller = ParentPollerUnix(parent_pid=self.parent_handle)

    def _server_socket(self, kind: int, port: int) -> tuple[Any, int]:
        s = self.context.socket(kind)
        s.linger = 1000
        if self.curve_secretkey is not None:
            s.curve_secretkey = self.curve_secretkey
            s.curve_publickey = self.curve_publickey
            s.curve_server = True
        return s, self._bind(s, port)

    def _bind(self, s: Any, port: int) -> int:
        for attempt in range(1 if port else 100):  # random ports may collide: retry
            try:
                if self.transport == "tcp":
                    if port <= 0:
                        return s.bind_to_random_port(f"tcp://{self.ip}")
                    s.bind(f"tcp://{self.ip}:{port}")
                    return port
                if port <= 0:
                    port = 1
                    while Path(f"{self.ip}-{port}").exists():
                        port += 1
                s.bind(f"ipc://{self.ip}-{port}")
                return port
            except zmq.ZMQError as e:
                if e.errno != errno.EADDRINUSE or attempt == 99 or port:
                    raise
        raise AssertionError("unreachable")

    def init_sockets(self) -> None:
        from ipykernel.control import ControlThread

        from .channels import IOPub

        self.log.info("Starting the kernel at pid: %i", os.getpid())
        self.context = zmq.Context()
        atexit.register(self.close)
        if self.curve_secretkey is None and self.transport == "tcp":
            self.log.warning(
                "Kernel is running over TCP without encryption. All communication (including code "
                "and outputs) is sent in plain text and is susceptible to eavesdropping. Use IPC "
                "transport or launch with kernel manager-provisioned CurveZMQ keys to enable "
                "transport encryption."
            )
        self.shell_socket, self.shell_port = self._server_socket(zmq.ROUTER, self.shell_port)
        self.stdin_socket, self.stdin_port = self._server_socket(zmq.ROUTER, self.stdin_port)
        self.control_socket, self.control_port = self._server_socket(zmq.ROUTER, self.control_port)
        if hasattr(zmq, "ROUTER_HANDOVER"):  # as ipykernel: zeromq reconnect problems (ipykernel#270)
            for s in (self.shell_socket, self.stdin_socket, self.control_socket):
                s.router_handover = 1
        self.control_thread = ControlThread(daemon=True)
        iopub, self.iopub_port = self._server_socket(zmq.XPUB, self.iopub_port)
        # Tornado would otherwise call logging.basicConfig on the root logger.
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(logging.BASIC_FORMAT))
        logging.getLogger("tornado").addHandler(handler)
        self.iopub = IOPub(iopub, self.session)

    def init_heartbeat(self) -> None:
        from ipykernel.heartbeat import Heartbeat

        # Its own context, as in ipykernel: the heartbeat must never wait for the GIL.
        self.heartbeat = Heartbeat(
            zmq.Context(),
            (self.transport, self.ip, self.hb_port),
            curve_publickey=self.curve_publickey,
            curve_secretkey=self.curve_secretkey,
        )
        self.hb_port = self.heartbeat.port
        self.heartbeat.start()

    def init_kernel(self) -> None:
        from zmq.eventloop.zmqstream import ZMQStream

        from .channels import ShellStream

        shell_stream = ShellStream(self.shell_socket)  # the main thread's loop
        control_stream = ZMQStream(self.control_socket, self.control_thread.io_loop)
        self.control_thread.start()
        self.kernel = self.kernel_class.instance(
            parent=self,
            session=self.session,
            control_stream=control_stream,
            shell_stream=shell_stream,
            control_thread=self.control_thread,
            shell_channel_thread=None,
            iopub_thread=None,
            iopub_socket=self.iopub,
            stdin_socket=self.stdin_socket,
            log=self.log,
        )
        self.kernel.record_ports(
            {
                "shell_port": self.shell_port, "iopub_port": self.iopub_port, "stdin_port": self.stdin_port,
                "hb_port": self.hb_port, "control_port": self.control_port,
            }
        )

    def close(self) -> None:
        """Closes the sockets in order (at exit)."""
        if self.heartbeat:
            self.heartbeat.context.term()
        if self.iopub:
            self.iopub.close()
        if self.control_thread and self.control_thread.is_alive():
            self.control_thread.stop()
            self.control_thread.join()
        for name in ("shell_socket", "control_socket", "stdin_socket"):
            s = getattr(self, name, None)
            if s is not None and not s.closed:
                s.close()
        if self.context:
            self.context.term()

    def start(self) -> None:
        from tornado import ioloop

        if self.poller is not None:
            self.poller.start()
        self.kernel.start()
        loop = ioloop.IOLoop.current()
        self.iopub.start(loop)
        try:
            loop.start()
        except KeyboardInterrupt:
            pass
