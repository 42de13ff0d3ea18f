"""Soak: thousands of mixed cells in one kernel, every reply in order, memory flat.

The cells mix prints, errors, values, external-table writes, garbage with
finalizers (that print and call the host), full collections, out-of-memory
and interrupts. Cells are sent in batches without waiting (as a frontend
running all cells does); every execute_reply must arrive, in the order sent,
with its own output. After a warm-up, the kernel's RSS (/proc/<pid>/status)
and the VM's memory after a full collection (wasm.memory().used) are
measured, and again at the end: both must stay flat.

Default run: SOAK_CELLS cells. Slow run: LUA_WASM_SOAK_CELLS (default
SOAK_CELLS_FULL). The numbers are printed (pytest -s) and recorded in
docs/RELIABILITY.md.
"""
from __future__ import annotations

import os
import random
import tempfile
import time
from queue import Empty

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager

from kernel_client import TIMEOUT, drain, kernel, run, stream_text

SOAK_CELLS = 500
SOAK_CELLS_FULL = int(os.environ.get("LUA_WASM_SOAK_CELLS", "10000"))
BATCH = 25
INTERRUPT_EVERY = 50  # one cell in this many is a loop stopped by an interrupt
WARM_UP_FRACTION = 0.1
# Flat: growth from the end of the warm-up to the end of the run.
RSS_GROWTH_MAX_BYTES = 16 * 1024 * 1024
VM_USED_GROWTH_MAX_BYTES = 16 * 1024


def _cell(i: int, rng: random.Random) -> tuple[str, str, str | None]:
    """(code, expected status, a text the cell's output or error must contain)."""
    kind = rng.randrange(8)
    if kind == 0:
        return f'print("cell {i}")', "ok", f"cell {i}\n"
    if kind == 1:
        return f'error("failure {i}")', "error", f"failure {i}"
    if kind == 2:
        return f'ext.table("soak")[{i % 50}] = string.rep("x", {i % 100}) ext_last = {i}', "ok", None
    if kind == 3:
        return ("for j = 1, 40 do setmetatable({}, {__gc = function() gc_seen = (gc_seen or 0) + 1 "
                "print('finalized') end}) end "
                "for j = 1, 20 do setmetatable({}, {__gc = function() ext.tables() end}) end"), "ok", None
    if kind == 4:
        return f"collectgarbage() return {i}", "ok", None
    if kind == 5:
        return "local t = {} for j = 1, 2000 do t[j] = {j, tostring(j)} end return #t", "ok", None
    if kind == 6:
        return 'local s = string.rep("x", 1 << 30)', "error", "memory"
    return f"local n = {i} " + "local v = 'item' " * 20 + "return n", "ok", None


def _vm_used(kc: BlockingKernelClient) -> int:
    reply, messages = run(kc, "collectgarbage() collectgarbage() return wasm.memory().used")
    assert reply["content"]["status"] == "ok", reply["content"]
    (text,) = [m["content"]["data"]["text/plain"] for m in messages if m["msg_type"] == "execute_result"]
    return int(text)


def _batch(kc: BlockingKernelClient, cells: list[tuple[str, str, str | None]]) -> None:
    """Sends the cells without waiting; checks every reply arrives, in order, with its output."""
    ids = [kc.execute(code, stop_on_error=False) for code, _, _ in cells]  # errors must not abort the rest
    replies = []
    while len(replies) < len(ids):
        reply = kc.get_shell_msg(timeout=TIMEOUT)
        if reply["msg_type"] == "execute_reply":
            replies.append(reply)
    assert [r["parent_header"]["msg_id"] for r in replies] == ids, "replies out of order or missing"
    by_parent: dict[str, list[dict]] = {i: [] for i in ids}
    idle = set()
    while len(idle) < len(ids):
        msg = kc.get_iopub_msg(timeout=TIMEOUT)
        parent = msg["parent_header"].get("msg_id")
        if parent in by_parent:
            by_parent[parent].append(msg)
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                idle.add(parent)
    for (code, status, text), reply, msg_id in zip(cells, replies, ids):
        content = reply["content"]
        assert content["status"] == status, (code, content)
        if text is not None:
            seen = content.get("evalue", "") if status == "error" else stream_text(by_parent[msg_id], "stdout")
            assert text in seen, (code, seen)


def _interrupted(km: KernelManager, kc: BlockingKernelClient) -> None:
    msg_id = kc.execute("while true do soak_spins = (soak_spins or 0) + 1 end")
    while True:
        msg = kc.get_iopub_msg(timeout=TIMEOUT)
        if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "execute_input":
            break
    # An interrupt that lands before the loop starts does nothing: send again until the reply comes.
    deadline = time.monotonic() + TIMEOUT
    while True:
        km.interrupt_kernel()
        try:
            reply = kc.get_shell_msg(timeout=0.2)
            break
        except Empty:
            assert time.monotonic() < deadline, "no reply to an interrupted cell"
    assert reply["parent_header"]["msg_id"] == msg_id
    assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt", reply["content"]
    drain(kc)


def soak(count: int, process_memory, seed: int = 1) -> dict[str, int]:
    rng = random.Random(seed)
    numbers: dict[str, int] = {"cells": count}
    with tempfile.TemporaryDirectory() as folder, kernel(LUA_WASM_CHECKPOINT_DIR=folder) as (km, kc):
        pid = km.provisioner.process.pid  # type: ignore[union-attr]
        run(kc, "untouched = 'kept'")
        warm_up_at = int(count * WARM_UP_FRACTION)
        done = 0
        interrupts = 0
        while done < count:
            if done >= warm_up_at and "rss_warm" not in numbers:
                numbers["rss_warm"] = process_memory(pid)["VmRSS"]
                numbers["vm_used_warm"] = _vm_used(kc)
            size = min(BATCH, count - done)
            _batch(kc, [_cell(done + k, rng) for k in range(size)])
            done += size
            if done // INTERRUPT_EVERY > interrupts:
                _interrupted(km, kc)
                interrupts += 1
                done += 1
        numbers["interrupts"] = interrupts
        numbers["rss_end"] = process_memory(pid)["VmRSS"]
        numbers["vm_used_end"] = _vm_used(kc)
        reply, messages = run(kc, "return untouched")
        assert [m["content"]["data"]["text/plain"] for m in messages if m["msg_type"] == "execute_result"] == ["kept"]
    print("soak:", numbers)
    return numbers


def _check_flat(numbers: dict[str, int]) -> None:
    rss = numbers["rss_end"] - numbers["rss_warm"]
    used = numbers["vm_used_end"] - numbers["vm_used_warm"]
    assert rss < RSS_GROWTH_MAX_BYTES, f"the kernel's RSS grew by {rss} bytes: {numbers}"
    assert used < VM_USED_GROWTH_MAX_BYTES, f"the VM's memory after a full collection grew by {used} bytes: {numbers}"


def test_soak_a_few_hundred_mixed_cells(process_memory) -> None:
    _check_flat(soak(SOAK_CELLS, process_memory))


@pytest.mark.slow
def test_soak_ten_thousand_mixed_cells(process_memory) -> None:
    _check_flat(soak(SOAK_CELLS_FULL, process_memory))
