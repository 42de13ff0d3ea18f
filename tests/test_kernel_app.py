"""The slim kernel app (app.py) and the direct shell and IOPub sends (channels.py): what they must
keep doing now that IPKernelApp, the shell-channel thread and the IOPub thread
are gone. Speed is measured in benchmarks/bench_kernel.py, never here."""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Iterator

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager, start_new_kernel

from kernel_env import KERNEL_NAME, spec_dir, use_test_kernelspec
from kernel_client import TIMEOUT, kernel as started_kernel, drain, run, streams

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def kernel() -> Iterator[tuple[KernelManager, BlockingKernelClient]]:
    with started_kernel() as pair:
        yield pair


@pytest.fixture
def kc(kernel: tuple[KernelManager, BlockingKernelClient]) -> BlockingKernelClient:
    drain(kernel[1])
    return kernel[1]


def test_ipython_and_debugpy_are_not_imported() -> None:
    """Cold start: the app, the kernel and its kernel_info load no IPython (but its
    one exception module) and no debugpy."""
    code = textwrap.dedent(
        """
        import sys
        from lua_wasm_kernel.app import LuaWasmKernelApp
        from lua_wasm_kernel.kernel import LuaWasmKernel
        from IPython.core.error import StdinNotImplementedError
        info = LuaWasmKernel().kernel_info
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("IPython", "debugpy", "prompt_toolkit"))
        print(heavy, info["supported_features"])
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
        env={**os.environ, "LUA_WASM_HISTORY_FILE": ":memory:"},
    ).stdout
    assert out.split("\n")[0] == "['IPython.core.error'] []"


def test_app_logger_drops_debug_records_unless_asked() -> None:
    from lua_wasm_kernel.app import LuaWasmKernelApp

    app = LuaWasmKernelApp()
    assert not app.log.isEnabledFor(logging.DEBUG)
    app.log_level = logging.DEBUG
    assert app.log.isEnabledFor(logging.DEBUG)


def test_kernel_info_has_no_debugger(kc: BlockingKernelClient) -> None:
    content = kc.kernel_info(reply=True, timeout=TIMEOUT)["content"]
    assert "debugger" not in content["supported_features"]


def test_10k_lines_are_complete_in_order_in_few_messages(kc: BlockingKernelClient) -> None:
    reply, messages = run(kc, 'for i = 1, 10000 do print(i) end io.stderr:write("end\\n") return "done"')
    assert reply["content"]["status"] == "ok"
    assert streams(messages) == [("stdout", "".join(f"{i}\n" for i in range(1, 10001))), ("stderr", "end\n")]
    # The VM sends its output in 64 KiB chunks, plus a flush per watcher tick
    # (25 ms) while a cell runs: a few messages, not one per line.
    assert sum(m["msg_type"] == "stream" for m in messages) <= 10
    kinds = [m["msg_type"] for m in messages]
    assert kinds[-2:] == ["execute_result", "status"]


def test_stop_on_error_aborts_queued_cells(kc: BlockingKernelClient) -> None:
    """Without a shell-channel thread ipykernel aborts the queue by flushing the shell stream:
    requests that reached the kernel before the error are aborted (as in ipykernel 6). The
    failing cell first runs for 0.2 s, so the others are surely there by then."""
    slow_error = 'local t = os.clock() while os.clock() - t < 0.2 do end error("stop here")'
    ids = [kc.execute(slow_error)] + [kc.execute(f"queued_{i} = {i}") for i in range(3)]
    statuses = []
    for msg_id in ids:
        reply = kc.get_shell_msg(timeout=TIMEOUT)
        assert reply["parent_header"]["msg_id"] == msg_id
        statuses.append(reply["content"]["status"])
    assert statuses == ["error", "aborted", "aborted", "aborted"]
    reply, _ = run(kc, "return queued_0 == nil")
    assert reply["content"]["status"] == "ok"


def test_control_requests_publish_status_from_the_control_thread(kc: BlockingKernelClient) -> None:
    msg = kc.session.msg("kernel_info_request")
    kc.control_channel.send(msg)
    reply = kc.control_channel.get_msg(timeout=TIMEOUT)
    assert reply["msg_type"] == "kernel_info_reply" and reply["parent_header"]["msg_id"] == msg["header"]["msg_id"]
    states = []
    while len(states) < 2:
        status = kc.get_iopub_msg(timeout=TIMEOUT)
        if status["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
            states.append(status["content"]["execution_state"])
    assert states == ["busy", "idle"]


def _variant(name: str, extra_argv: list[str] = (), env: dict[str, str] | None = None) -> str:
    dest = spec_dir(name)
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(spec_dir(), dest)
    spec = json.loads((dest / "kernel.json").read_text())
    spec["argv"] += list(extra_argv)
    if env:
        spec["env"] = env
    (dest / "kernel.json").write_text(json.dumps(spec, indent=2))
    return name


def _banner(name: str) -> str:
    km, kc = start_new_kernel(kernel_name=name, startup_timeout=TIMEOUT)
    try:
        return kc.kernel_info(reply=True, timeout=TIMEOUT)["content"]["banner"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_settings_from_the_command_line() -> None:
    name = _variant("lua-wasm-cli", ["--LuaWasmKernel.memory_limit=8388608"])
    assert "memory limit 8 MiB" in _banner(name)


def test_settings_from_a_config_file(tmp_path: Path) -> None:
    (tmp_path / "lua_wasm_kernel_config.py").write_text("c.LuaWasmKernel.memory_limit = 6 * 2**20\n")
    name = _variant("lua-wasm-config-file", env={"JUPYTER_CONFIG_DIR": str(tmp_path)})
    assert "memory limit 6 MiB" in _banner(name)


def test_shutdown_request_ends_the_process_cleanly() -> None:
    use_test_kernelspec()
    km, kc = start_new_kernel(kernel_name=KERNEL_NAME, startup_timeout=TIMEOUT)
    try:
        process = km.provisioner.process
        msg_id = kc.shutdown()
        reply = kc.get_control_msg(timeout=TIMEOUT)
        assert reply["msg_type"] == "shutdown_reply" and reply["parent_header"]["msg_id"] == msg_id
        assert process.wait(timeout=TIMEOUT) == 0  # exited by itself, not killed
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
