"""Driving the real kernel through jupyter_client, as a frontend does: shared by the protocol tests."""
from __future__ import annotations

import os
from contextlib import contextmanager
from queue import Empty
from typing import Any, Iterator

from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager, start_new_kernel

from kernel_env import KERNEL_NAME, use_test_kernelspec

TIMEOUT = 30


@contextmanager
def kernel(**env: str) -> Iterator[tuple[KernelManager, BlockingKernelClient]]:
    """A kernel with these environment variables (kept across restarts)."""
    use_test_kernelspec()
    full = {k: v for k, v in os.environ.items() if k not in ("JPY_SESSION_NAME", "LUA_WASM_CHECKPOINT_DIR")}
    full.update(env)
    km, kc = start_new_kernel(kernel_name=KERNEL_NAME, startup_timeout=TIMEOUT, env=full)
    try:
        yield km, kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def restart(km: KernelManager, kc: BlockingKernelClient) -> None:
    km.restart_kernel(now=True)
    kc.wait_for_ready(timeout=TIMEOUT)
    while True:  # drop what the old kernel and wait_for_ready left
        try:
            kc.get_iopub_msg(timeout=0.2)
        except Exception:  # noqa: BLE001 -- queue.Empty
            break


def drain(kc: BlockingKernelClient) -> None:
    """Drops whatever is waiting on the shell and IOPub channels."""
    for channel in (kc.shell_channel, kc.iopub_channel):
        while True:
            try:
                channel.get_msg(timeout=0.05)
            except Empty:
                break


def run(kc: BlockingKernelClient, code: str, **kwargs: Any) -> tuple[dict, list[dict]]:
    """The execute_reply and the IOPub messages of one cell up to its idle status, in order."""
    msg_id = kc.execute(code, **kwargs)
    messages = []
    while True:
        msg = kc.get_iopub_msg(timeout=TIMEOUT)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        messages.append(msg)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    reply = kc.get_shell_msg(timeout=TIMEOUT)
    while reply["msg_type"] == "kernel_info_reply":  # late ones from wait_for_ready
        reply = kc.get_shell_msg(timeout=TIMEOUT)
    assert reply["parent_header"]["msg_id"] == msg_id
    return reply, messages


def streams(messages: list[dict]) -> list[tuple[str, str]]:
    """Stream messages merged while the stream name stays the same."""
    merged: list[tuple[str, str]] = []
    for msg in messages:
        if msg["msg_type"] == "stream":
            name, text = msg["content"]["name"], msg["content"]["text"]
            if merged and merged[-1][0] == name:
                merged[-1] = (name, merged[-1][1] + text)
            else:
                merged.append((name, text))
    return merged


def result(kc: BlockingKernelClient, code: str) -> str | None:
    """The text/plain result of a cell that must succeed."""
    reply, messages = run(kc, code)
    assert reply["content"]["status"] == "ok", reply
    texts = [m["content"]["data"]["text/plain"] for m in messages if m["msg_type"] == "execute_result"]
    return texts[0] if texts else None


def stream_text(messages: list[dict[str, Any]], name: str) -> str:
    return "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream" and m["content"]["name"] == name)
