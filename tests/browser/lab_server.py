"""A `jupyter lab` server for the browser tests: 127.0.0.1, a free port, a token, a temporary root.

The server sees the test kernelspec (tests/kernel_env.py sets JUPYTER_PATH
before the server starts, and the server's environment is passed on to the
kernels it starts). LUA_WASM_CHECKPOINT_DIR is removed, so external tables
live in the real per-notebook store beside each notebook. JupyterLab's own
settings (no news, no update check, every cell kept in the page) come from
a settings folder of the server's own; nothing is fetched from outside.
"""
from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
START_TIMEOUT_SECONDS = 120
STOP_TIMEOUT_SECONDS = 20
POLL_SECONDS = 0.25

# JupyterLab settings (plugin id -> values) the tests rely on.
LAB_SETTINGS: dict[str, dict[str, Any]] = {
    # No "get notified about news?" toast over the outputs, no update check.
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    # Every cell in the page, so prompts and outputs of Run All can be read.
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def write_lab_settings(settings_dir: Path) -> None:
    """Writes LAB_SETTINGS as JupyterLab user settings under `settings_dir`."""
    for plugin, values in LAB_SETTINGS.items():
        package, name = plugin.rsplit("/", 1)
        path = settings_dir / package / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


class LabServer:
    """One `jupyter lab` process serving `root`; `stop()` ends it and its kernels."""

    def __init__(self, root: Path, state: Path, log_path: Path) -> None:
        self.root = root
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.base = f"http://{HOST}:{self.port}"
        self._log_path = log_path
        settings = state / "lab-settings"
        write_lab_settings(settings)
        env = dict(os.environ)
        env.pop("LUA_WASM_CHECKPOINT_DIR", None)
        env["JUPYTERLAB_SETTINGS_DIR"] = str(settings)
        env["JUPYTERLAB_WORKSPACES_DIR"] = str(state / "lab-workspaces")
        argv = [
            sys.executable, "-m", "jupyterlab",
            "--no-browser",
            "--allow-root",
            f"--ServerApp.ip={HOST}",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={root}",
            "--LabApp.extension_manager=readonly",
            "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
        ]
        self._log_file = open(log_path, "wb")
        self._proc = subprocess.Popen(argv, env=env, stdout=self._log_file, stderr=subprocess.STDOUT)
        self._wait_until_up()

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited ({self._proc.returncode}); see {self._log_path}")
            try:
                self.api("GET", "api/status")
                return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(POLL_SECONDS)
        self.stop()
        raise RuntimeError(f"jupyter lab did not answer in {START_TIMEOUT_SECONDS} s; see {self._log_path}")

    def url(self, path: str) -> str:
        """A page of the server, with the token (and `reset`: a fresh workspace)."""
        sep = "&" if "?" in path else "?"
        return f"{self.base}/{path.lstrip('/')}{sep}token={self.token}&reset"

    def api(self, method: str, path: str) -> Any:
        request = urllib.request.Request(
            f"{self.base}/{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """Ends every session and kernel (each test leaves the 2 cores to the next)."""
        for session in self.api("GET", "api/sessions"):
            self._delete(f"api/sessions/{session['id']}")
        for kernel in self.api("GET", "api/kernels"):
            self._delete(f"api/kernels/{kernel['id']}")

    def _delete(self, path: str) -> None:
        """DELETE, where already gone (404) is as good as deleted."""
        try:
            self.api("DELETE", path)
        except urllib.error.HTTPError as error:
            if error.code != 404:
                raise

    def log_text(self) -> str:
        return self._log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                log.warning("jupyter lab ignored SIGTERM; killing it")
                self._proc.kill()
                self._proc.wait()
        self._log_file.close()
