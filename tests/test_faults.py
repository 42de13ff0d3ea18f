"""Faults: kills during persistence, unwritable and full checkpoint folders, hostile files.

- kill -9 of a real kernel while it saves external tables after its cells,
  KILL_ROUNDS_FULL times in the slow run (KILL_ROUNDS in the default one): the
  files left always load, hold one complete state, and that state is at least
  the last one whose execute_reply arrived (a reply means the state is saved).
- A read-only checkpoint folder (a tmpfs remounted read-only when the tests run
  as root, else a folder without write permission) and a full one (the
  kernel's RLIMIT_FSIZE lowered with prlimit, so writes fail with EFBIG as on
  a full disk; no root needed): the cell gets a clear warning, nothing in
  memory is lost, and the tables are saved once writing works again.
- Corrupt and hostile table pickles and snapshot files: refused with a
  warning, and no code in them runs.
"""
from __future__ import annotations

import os
import pickle
import random
import resource
import signal
import struct
import subprocess
import sys
import threading
import tracemalloc
import zlib
from pathlib import Path
from queue import Empty
from typing import Callable, Iterator

import pytest

from kernel_client import kernel, run, stream_text
from lua_wasm_kernel import serializer, snapshot
from lua_wasm_kernel.persistence import TableFiles, store_folder
from lua_wasm_kernel.snapshot import Snapshots
from lua_wasm_kernel.vm import LuaVM

KILL_ROUNDS = 3
KILL_ROUNDS_FULL = 50
ITEMS = 3000  # per table: each save writes a pickle of about 30 KB
WRITE_CELL = f"""
local t, s = ext.table("big"), ext.table("small")
local g = (t.gen or 0) + 1
for i = 1, {ITEMS} do t[i] = g end
t.gen = g
s.gen = g
"""


# -- kill -9 during persistence

def _load_state(folder: Path) -> tuple[int, list[str]]:
    """The generation the files hold (checked complete and consistent), and the warnings."""
    warnings: list[str] = []
    tables = dict(TableFiles(folder, warnings.append).load_all())
    if not tables:
        return 0, warnings
    big = {serializer.decode(k): serializer.decode(v) for k, v in tables["big"].items()}
    gen = big.pop("gen")
    assert big == {i: gen for i in range(1, ITEMS + 1)}, "the big table's file holds a mixed state"
    small_gen = serializer.decode(tables["small"][serializer.encode("gen")])
    # Tables are saved one after the other: the other may be one cell behind, never more.
    assert gen - 1 <= small_gen <= gen + 1, (gen, small_gen)
    return gen, warnings


def _kill_round(checkpoints: Path, rng: random.Random) -> bool:
    """One kernel killed while it writes; True if the kill caught a file half-written."""
    folder = store_folder(str(checkpoints), environ={})
    temps_before = set(folder.glob(".*.tmp")) if folder.exists() else set()
    on_disk_before, _ = _load_state(folder)
    with kernel(LUA_WASM_CHECKPOINT_DIR=str(checkpoints)) as (km, kc):
        reply, messages = run(kc, 'return ext.table("big").gen or 0')
        loaded = [m["content"]["data"]["text/plain"] for m in messages if m["msg_type"] == "execute_result"]
        assert loaded == [str(on_disk_before)], "the kernel did not load the last complete state"
        pid = km.provisioner.process.pid  # type: ignore[union-attr]
        killed = threading.Event()

        def kill() -> None:
            os.kill(pid, signal.SIGKILL)
            killed.set()

        threading.Timer(rng.uniform(0.05, 0.6), kill).start()
        acked = 0
        while not killed.is_set():
            msg_id = kc.execute(WRITE_CELL)
            while True:
                try:
                    reply = kc.get_shell_msg(timeout=0.05)
                except Empty:
                    if killed.is_set():
                        break
                    continue
                if reply["parent_header"].get("msg_id") == msg_id:
                    assert reply["content"]["status"] == "ok", reply["content"]
                    acked += 1
                    break
        km.provisioner.process.wait()  # type: ignore[union-attr]
    gen, warnings = _load_state(folder)
    assert warnings == [], warnings
    assert on_disk_before + acked <= gen <= on_disk_before + acked + 1, (on_disk_before, acked, gen)
    return bool(set(folder.glob(".*.tmp")) - temps_before)


def test_kill_during_persistence_leaves_the_last_complete_state(tmp_path: Path) -> None:
    rng = random.Random(7)
    mid_write = sum(_kill_round(tmp_path, rng) for _ in range(KILL_ROUNDS))
    print(f"{KILL_ROUNDS} kills, {mid_write} in the middle of writing a file")


@pytest.mark.slow
def test_kill_during_persistence_leaves_the_last_complete_state_50_times(tmp_path: Path) -> None:
    rng = random.Random(int(os.environ.get("LUA_WASM_FAULT_SEED", "50")))
    mid_write = sum(_kill_round(tmp_path, rng) for _ in range(KILL_ROUNDS_FULL))
    print(f"{KILL_ROUNDS_FULL} kills, {mid_write} in the middle of writing a file")


# -- unwritable and full folders

def _results(messages: list[dict]) -> list[str]:
    return [m["content"]["data"]["text/plain"] for m in messages if m["msg_type"] == "execute_result"]


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[tuple[Path, Callable[[], Callable[[], object]]]]:
    """A folder and a function that makes it read-only (returns one that undoes it)."""
    mount = tmp_path / "mnt"
    mount.mkdir()
    mounted = False
    if os.geteuid() == 0:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
                                 capture_output=True).returncode == 0
        if not mounted:
            pytest.skip("running as root without the right to mount a tmpfs: permissions cannot make "
                        "a folder read-only for root")

    def make_read_only():
        if mounted:
            subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
            return lambda: subprocess.run(["mount", "-o", "remount,rw", str(mount)], check=True)
        for p in [mount, *mount.rglob("*")]:
            p.chmod(0o555 if p.is_dir() else 0o444)
        return lambda: [p.chmod(0o755 if p.is_dir() else 0o644) for p in [mount, *mount.rglob("*")]]

    try:
        yield mount, make_read_only
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_read_only_checkpoint_folder_warns_and_keeps_everything(read_only_dir) -> None:
    folder, make_read_only = read_only_dir
    with kernel(LUA_WASM_CHECKPOINT_DIR=str(folder)) as (km, kc):
        reply, _ = run(kc, 'ext.table("t").first = "saved"')
        assert reply["content"]["status"] == "ok"
        undo = make_read_only()
        reply, messages = run(kc, 'ext.table("t").second = "in memory" x = 1 return "ran"')
        assert reply["content"]["status"] == "ok", reply["content"]
        assert _results(messages) == ["ran"]
        warning = stream_text(messages, "stderr")
        assert "cannot save the external table 't'" in warning and "stays in memory" in warning, warning
        reply, messages = run(kc, 'local t = ext.table("t") return t.first .. "/" .. t.second .. "/" .. x')
        assert _results(messages) == ["saved/in memory/1"]
        undo()
        run(kc, "y = 2")  # the table is still marked changed: saved after this cell
    gen_files = dict(TableFiles(store_folder(str(folder), environ={}), print).load_all())
    items = {serializer.decode(k): serializer.decode(v) for k, v in gen_files["t"].items()}
    assert items == {"first": "saved", "second": "in memory"}


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[tuple[Path, Callable[[], None] | None]]:
    """A folder on a 64 KiB tmpfs when the tests may mount one (root), and a function
    that grows it to 4 MiB; else a plain folder, and None (see the test)."""
    mount = tmp_path / "small"
    mount.mkdir()
    mounted = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True).returncode == 0
    grow = (lambda: subprocess.run(["mount", "-o", "remount,size=4m", str(mount)], check=True)) if mounted else None
    try:
        yield mount, grow
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_full_disk_warns_keeps_everything_and_saves_later(small_fs) -> None:
    """A full file system: a 64 KiB tmpfs (as root), else RLIMIT_FSIZE of 4 KiB set
    before the kernel starts (its writes then fail with EFBIG; Python ignores SIGXFSZ),
    which cannot be lifted from outside, so the last step is left out."""
    folder, grow = small_fs
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    if grow is None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))
    try:
        with kernel(LUA_WASM_CHECKPOINT_DIR=str(folder)) as (km, kc):
            if grow is None:
                resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
            reply, _ = run(kc, 'ext.table("t").small = 1')
            assert reply["content"]["status"] == "ok"
            reply, messages = run(kc, 'local t = ext.table("t") for i = 1, 20000 do t[i] = "v" .. i end return #t')
            assert reply["content"]["status"] == "ok", reply["content"]
            assert _results(messages) == ["20000"]
            warning = stream_text(messages, "stderr")
            assert "cannot save the external table 't'" in warning, warning
            reply, messages = run(kc, 'local t = ext.table("t") return t[19999] .. "/" .. t.small')
            assert _results(messages) == ["v19999/1"]
            if grow is None:
                return
            grow()
            reply, messages = run(kc, "z = 3")
            assert "cannot save" not in stream_text(messages, "stderr")
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    tables = dict(TableFiles(store_folder(str(folder), environ={}), print).load_all())
    assert len(tables["t"]) == 20001


# -- hostile and corrupt table files

class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _hostile_pickles(marker: Path) -> dict[str, bytes]:
    good = pickle.dumps({"lua_wasm_ext": 1, "name": "t", "items": {serializer.encode(1): serializer.encode(2)}})
    depth = 100_000  # a list nested this deep, written opcode by opcode (pickle.dumps would recurse)
    deep = b"\x80\x05" + b"]" * depth + b"a" * (depth - 1) + b"."
    return {
        "code": pickle.dumps({"lua_wasm_ext": 1, "name": "evil", "items": {b"\x04k": _Evil(marker)}}),
        "code-at-top": pickle.dumps(_Evil(marker)),
        "truncated": good[: len(good) // 2],
        "random": random.Random(1).randbytes(500),
        "empty": b"",
        "wrong-shape": pickle.dumps({"lua_wasm_ext": 1, "name": "t", "items": {"k": 1}}),
        "bad-key-tag": pickle.dumps({"lua_wasm_ext": 1, "name": "t", "items": {b"\x05k": b"\x02" + bytes(8)}}),
        "deep": deep,
    }


def test_hostile_and_corrupt_table_files_are_refused_and_run_no_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    folder = tmp_path / "store"
    folder.mkdir()
    for name, data in _hostile_pickles(marker).items():
        (folder / f"ext-{name}.pickle").write_bytes(data)
    warnings: list[str] = []
    loaded = list(TableFiles(folder, warnings.append).load_all())
    assert loaded == []
    assert not marker.exists(), "a pickle ran code"
    assert len(warnings) == len(_hostile_pickles(marker)), warnings
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"ext-{name}.pickle.corrupt" for name in _hostile_pickles(marker)
    )


def test_a_hostile_table_file_in_the_kernel_warns_and_the_kernel_goes_on(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    folder = store_folder(str(tmp_path), environ={})
    folder.mkdir(parents=True)
    (folder / "ext-evil.pickle").write_bytes(_hostile_pickles(marker)["code"])
    with kernel(LUA_WASM_CHECKPOINT_DIR=str(tmp_path)) as (km, kc):
        reply, messages = run(kc, 'return #ext.tables(), ext.table("evil").k == nil')
        assert reply["content"]["status"] == "ok", reply["content"]
        assert "unreadable" in stream_text(messages, "stderr")
        assert _results(messages) == ["0\ttrue"]
    assert not marker.exists()


# -- hostile and corrupt snapshot files

def _snapshot_variants(vm: LuaVM) -> dict[str, bytes]:
    good = snapshot.encode(vm, {}, "s")
    header, start = snapshot.decode_header(good)
    import json

    def with_header(**changes) -> bytes:
        head = json.dumps({**header, **changes}).encode()
        return snapshot.MAGIC + struct.pack("<I", len(head)) + head + good[start:]

    bomb_image = zlib.compress(bytes(256 * 1024 * 1024), 9)  # 256 MiB of zeros in about 250 KB
    head = json.dumps(header).encode()
    return {
        "random": random.Random(2).randbytes(4000),
        "empty": b"",
        "magic-only": snapshot.MAGIC,
        "header-too-long": snapshot.MAGIC + struct.pack("<I", 0xFFFF_FFFF),
        "header-not-json": snapshot.MAGIC + struct.pack("<I", 5) + b"{{{{{" + good[start:],
        "header-a-list": snapshot.MAGIC + struct.pack("<I", 2) + b"[]" + good[start:],
        "other-build": with_header(build="0" * 64),
        "other-size": with_header(memory_bytes=vm.memory_bytes * 2),
        "bad-ext-ids": with_header(ext_ids=[["x", {"hex": "zz"}]]),
        "truncated-image": good[: start + (len(good) - start) // 2],
        "image-too-small": snapshot.MAGIC + struct.pack("<I", len(head)) + head + zlib.compress(b"\x00" * 1000),
        "bomb": snapshot.MAGIC + struct.pack("<I", len(head)) + head + bomb_image,
    }


def test_corrupt_and_hostile_snapshots_are_refused_and_the_state_is_kept(tmp_path: Path, vm: LuaVM) -> None:
    """Depends on issue 7 item 9 ("files from disk are validated before use"): today the
    bomb is decompressed whole (256 MiB) before its size is checked, and bad ext ids raise."""
    warnings: list[str] = []
    snaps = Snapshots(vm, tmp_path, warnings.append)
    variants = _snapshot_variants(vm)
    assert vm.eval("kept = 'here'").ok
    problems = []
    for name, data in variants.items():
        snaps.path_for(name).write_bytes(data)
        warnings.clear()
        tracemalloc.start()
        try:
            restored = snaps.restore_now(name)
            peak = tracemalloc.get_traced_memory()[1]
        except Exception as e:  # noqa: BLE001 -- reported below with the others
            restored, peak = f"raised {e!r}", 0
        finally:
            tracemalloc.stop()
        if restored is not False:
            problems.append(f"{name}: restore_now gave {restored!r}")
        elif not (len(warnings) == 1 and "cannot restore" in warnings[0]):
            problems.append(f"{name}: not a clear refusal: {warnings}")
        if peak >= 8 * vm.memory_bytes:
            problems.append(f"{name}: allocated {peak} bytes")
        if vm.eval("return kept").values != ["here"]:
            problems.append(f"{name}: the state was lost")
            assert vm.eval("kept = 'here'").ok
    assert not problems, "\n".join(problems)


MUTATED_IMAGE_SCRIPT = r"""
import random, sys
from lua_wasm_kernel.vm import LuaVM
vm = LuaVM()
vm.eval("t = {} for i = 1, 1000 do t[i] = {i, tostring(i)} end f = function(x) return #t + x end")
image = bytearray(vm.save_image())
rng = random.Random(int(sys.argv[1]))
for _ in range(int(sys.argv[2])):
    image[rng.randrange(len(image))] = rng.randrange(256)
vm.load_image(bytes(image))
outcomes = []
for code in ("return f(1)", "return #t", "collectgarbage() return 1", "x = {} return 2"):
    outcomes.append(vm.eval(code).status.name)
vm.reset()
assert vm.eval("return 1 + 1").values == [2]
print(outcomes)
"""


@pytest.mark.parametrize("seed", range(6))
def test_a_tampered_snapshot_image_cannot_harm_the_host(seed: int) -> None:
    """A snapshot's image passes the build check but its bytes are damaged: whatever
    the VM then does, the host process survives it (a trap, an error, or a result)."""
    proc = subprocess.run([sys.executable, "-c", MUTATED_IMAGE_SCRIPT, str(seed), str(1 + seed * 40)],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONOPTIMIZE": ""})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("["), proc.stdout
