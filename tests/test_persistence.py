"""External tables on disk: where, how they are written and read, and that a
kernel restart, a crash or a hostile file cannot lose or corrupt them."""
from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernel_client import kernel, restart, result, run, stream_text
from lua_wasm_kernel.abi import Status
from lua_wasm_kernel.persistence import Checkpoints, TableFiles, store_folder
from lua_wasm_kernel.store_files import UnsafePickleError, loads_restricted, quote_name
from lua_wasm_kernel.serializer import decode, encode
from lua_wasm_kernel.vm import LuaVM

ROOT = Path(__file__).resolve().parent.parent


# -- where

def test_the_store_is_in_the_notebooks_checkpoint_folder(tmp_path, monkeypatch) -> None:
    notebook = tmp_path / "work" / "analysis.ipynb"
    notebook.parent.mkdir()
    env = {"JPY_SESSION_NAME": str(notebook)}
    assert store_folder("", env) == tmp_path / "work" / ".ipynb_checkpoints" / "analysis.ipynb.lua-wasm"
    # A console (no session) uses the working directory.
    monkeypatch.chdir(tmp_path)
    assert store_folder("", {}) == tmp_path / ".ipynb_checkpoints" / "console.lua-wasm"
    # The setting replaces .ipynb_checkpoints; notebooks stay apart inside it.
    assert store_folder(str(tmp_path / "ckpt"), env) == tmp_path / "ckpt" / "analysis.ipynb.lua-wasm"
    other = store_folder(str(tmp_path / "ckpt"), {"JPY_SESSION_NAME": str(tmp_path / "work" / "other.ipynb")})
    assert other != store_folder(str(tmp_path / "ckpt"), env)


def test_file_names_are_safe_for_any_table_name(tmp_path) -> None:
    warnings: list[str] = []
    files = TableFiles(tmp_path, warnings.append)
    names = ["plain", "with/slash", "..", ".hidden", "ünï", b"\xff\x00raw", "x" * 256]
    for i, name in enumerate(names):
        files.save(name, {encode(1): encode(i)})
    assert all(p.parent == tmp_path for p in tmp_path.iterdir())
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())
    loaded = dict(files.load_all())
    assert set(loaded) == set(names) and not warnings
    assert quote_name("plain") == "plain" and len(quote_name("x" * 256)) < 100


names = st.text(min_size=1, max_size=40) | st.binary(min_size=1, max_size=40).filter(lambda b: not _utf8(b))
keys = st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.text(max_size=10) | st.booleans()
values = st.recursive(
    st.booleans() | st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.floats() | st.binary(max_size=20),
    lambda inner: st.dictionaries(keys, inner, max_size=4),
    max_leaves=12,
)


def _utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


@settings(max_examples=60, deadline=None)
@given(name=names, items=st.dictionaries(keys, values, max_size=8))
def test_tables_round_trip_through_files(tmp_path_factory, name, items) -> None:
    from lua_wasm_kernel.ext_tables import encode_key

    folder = tmp_path_factory.mktemp("rt")
    stored = {encode_key(k): encode(v) for k, v in items.items()}
    TableFiles(folder, print).save(name, stored)
    warnings: list[str] = []
    ((loaded_name, loaded),) = list(TableFiles(folder, warnings.append).load_all())
    assert not warnings and loaded_name == name
    assert list(loaded.items()) == list(stored.items())  # same bytes, same order


# -- how: only changed tables, atomically

def _checkpoints(tmp_path, runtime) -> tuple[LuaVM, Checkpoints, list[str]]:
    vm = LuaVM(runtime=runtime)
    shown: list[str] = []
    cp = Checkpoints(vm, tmp_path / "store")
    cp.begin_cell(shown.append)
    return vm, cp, shown


def cell(vm: LuaVM, cp: Checkpoints, code: str, shown: list[str] | None = None) -> list:
    cp.begin_cell(shown.append if shown is not None else None)
    r = vm.eval(code)
    cp.end_cell(r.ok)
    assert r.status == Status.OK, r.error
    return r.values


def test_only_changed_tables_are_written_after_a_cell(tmp_path, runtime, monkeypatch) -> None:
    vm, cp, _ = _checkpoints(tmp_path, runtime)
    written: list = []
    save = cp.files.save
    monkeypatch.setattr(cp.files, "save", lambda name, items: (written.append(name), save(name, items)))
    cell(vm, cp, "a = ext.table('a') b = ext.table('b') a.x = 1 b.y = 2")
    assert sorted(written) == ["a", "b"]
    written.clear()
    cell(vm, cp, "a.x = 10")
    assert written == ["a"]
    written.clear()
    cell(vm, cp, "local v = a.x + b.y")  # reads change nothing
    assert written == []
    cell(vm, cp, "ext.drop('b')")
    assert not cp.files.path_for("b").exists() and cp.files.path_for("a").exists()
    # A fresh VM on the same folder (a restart) sees the saved state.
    vm2, cp2, _ = _checkpoints(tmp_path, runtime)
    names, x = cell(vm2, cp2, "ext.tables(), ext.table('a').x")
    assert [v for _, v in names.pairs] == ["a"] and x == 10


def test_nothing_is_read_or_written_until_ext_is_used(tmp_path, runtime) -> None:
    vm, cp, _ = _checkpoints(tmp_path, runtime)
    cell(vm, cp, "x = 1")
    assert not (tmp_path / "store").exists()


def test_a_failed_save_warns_and_is_retried(tmp_path, runtime, monkeypatch) -> None:
    vm, cp, shown = _checkpoints(tmp_path, runtime)
    save = cp.files.save

    def full_disk(name, items):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cp.files, "save", full_disk)
    cell(vm, cp, "ext.table('t').v = 1", shown)
    assert "cannot save the external table 't'" in "".join(shown) and "No space left" in "".join(shown)
    monkeypatch.setattr(cp.files, "save", save)
    cell(vm, cp, "x = 1")  # no change in this cell, but the table is still unsaved
    assert cp.files.path_for("t").exists()


KILL_WRITER = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    sys.path.insert(0, {root!r})
    from lua_wasm_kernel.persistence import TableFiles
    from lua_wasm_kernel.serializer import decode, encode

    real_fdopen = os.fdopen

    class HalfThenPause:
        # Writes half the file, says so, pauses: the test's kill lands mid-write.
        def __init__(self, f): self.f = f
        def __enter__(self): return self
        def __exit__(self, *exc): return self.f.__exit__(*exc)
        def write(self, data):
            half = len(data) // 2
            self.f.write(data[:half]); self.f.flush()
            print("half", flush=True)
            time.sleep(0.05)
            self.f.write(data[half:])
        def flush(self): self.f.flush()
        def fileno(self): return self.f.fileno()

    os.fdopen = lambda *a, **k: HalfThenPause(real_fdopen(*a, **k))
    files = TableFiles(Path({folder!r}), print)
    n = 0
    while True:
        n += 1
        # Every version is consistent: n items and a count that says n.
        items = {{encode(i): encode("x" * 200) for i in range(1, n * 50)}}
        items[encode("count")] = encode(n * 50 - 1)
        files.save("t", items)
        print("saved", n, flush=True)
""")


@pytest.mark.slow
def test_kill_9_during_writes_keeps_the_last_complete_state(tmp_path) -> None:
    folder = tmp_path / "store"
    script = KILL_WRITER.format(root=str(ROOT), folder=str(folder))
    kills_mid_write = 0
    attempts = 12
    for attempt in range(attempts):
        temps_before = {p.name for p in folder.iterdir() if p.name.endswith(".tmp")} if folder.exists() else set()
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        saves = 1 + attempt % 6 * 2  # at least one complete version first
        while saves:
            saves -= proc.stdout.readline().startswith("saved")
        if attempt % 2:  # kill while the writer is paused halfway through a file
            assert proc.stdout.readline() == "half\n"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        temps = {p.name for p in folder.iterdir() if p.name.endswith(".tmp")}
        kills_mid_write += bool(temps - temps_before)  # a temporary file left behind: killed while writing
        warnings: list[str] = []
        tables = dict(TableFiles(folder, warnings.append).load_all())
        assert not warnings
        items = tables["t"]
        assert decode(items[encode("count")]) == len(items) - 1
    assert kills_mid_write >= attempts // 2, "the paused writes were not left half-written"


# -- hostile and corrupt files

MARKER = "lua_wasm_hostile_marker"


class Hostile:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("protocol", [0, 2, 5])
def test_a_hostile_pickle_is_rejected_and_runs_nothing(tmp_path, protocol) -> None:
    marker = tmp_path / MARKER
    data = pickle.dumps({"lua_wasm_ext": 1, "name": "evil", "items": {encode(1): Hostile(marker)}}, protocol=protocol)
    with pytest.raises(UnsafePickleError, match="refused to load"):
        loads_restricted(data)
    folder = tmp_path / "store"
    folder.mkdir()
    (folder / "ext-evil.pickle").write_bytes(data)
    warnings: list[str] = []
    assert dict(TableFiles(folder, warnings.append).load_all()) == {}
    assert not marker.exists(), "the pickle's code ran"
    assert "ext-evil.pickle is unreadable" in warnings[0] and "moved aside" in warnings[0]
    assert (folder / "ext-evil.pickle.corrupt").exists()


def test_plain_containers_and_scalars_do_load() -> None:
    # Protocol 5 (what the store writes) has an opcode for each of these.
    value = {"a": [1, 2.5, None, True, 2**70], "b": (b"x", "y"), "c": {1, 2}, "d": frozenset({3}), "e": bytearray(b"z")}
    assert loads_restricted(pickle.dumps(value, protocol=5)) == value
    # Older protocols rebuild bytes and bytearrays by calling functions: refused too.
    with pytest.raises(UnsafePickleError):
        loads_restricted(pickle.dumps(b"x", protocol=2))


@pytest.mark.parametrize(
    "content",
    [b"", b"not a pickle", pickle.dumps({"lua_wasm_ext": 1, "name": "t", "items": {b"\x02" + bytes(8): b"\x02"}})[:-3],
     pickle.dumps([1, 2, 3]), pickle.dumps({"lua_wasm_ext": 1, "name": "t", "items": {"str key": b"\x00"}}),
     pickle.dumps({"lua_wasm_ext": 1, "name": "t", "items": {b"\x05\x00\x00\x00\x00": b"\x00"}}),
     pickle.dumps({"lua_wasm_ext": 1, "name": "t", "items": {b"\x02" + bytes(8): b""}})],
    ids=["empty", "garbage", "truncated", "wrong shape", "wrong item types", "a table as a key", "an empty value"],
)
def test_a_corrupt_file_is_moved_aside_with_a_warning(tmp_path, content) -> None:
    folder = tmp_path / "store"
    files = TableFiles(folder, lambda m: None)
    files.save("good", {encode(1): encode("kept")})
    (folder / "ext-bad.pickle").write_bytes(content)
    warnings: list[str] = []
    tables = dict(TableFiles(folder, warnings.append).load_all())
    assert list(tables) == ["good"]
    assert len(warnings) == 1 and "unreadable" in warnings[0] and "ext-bad.pickle.corrupt" in warnings[0]
    assert (folder / "ext-bad.pickle.corrupt").read_bytes() == content
    assert not (folder / "ext-bad.pickle").exists()


# -- through the real kernel

@pytest.mark.slow
def test_values_survive_a_kernel_restart(tmp_path) -> None:
    with kernel(LUA_WASM_CHECKPOINT_DIR=str(tmp_path)) as (km, kc):
        assert result(kc, """
            t = ext.table("scores")
            for i = 1, 1000 do t[i] = i * 2 end
            t.meta = {name = "run 1", tags = {"a", "b"}}
            return #t
        """) == "1000"
        restart(km, kc)
        assert result(kc, "t == nil") == "true"  # the Lua state is fresh...
        # ...the external table is not.
        assert result(kc, "local t = ext.table('scores') return #t, t[500], t.meta.tags[2]") == "1000\t1000\tb"
        # Reopening is a restart too (a new kernel process on the same folder).
    with kernel(LUA_WASM_CHECKPOINT_DIR=str(tmp_path)) as (km, kc):
        assert result(kc, "ext.table('scores').meta.name") == "run 1"


@pytest.mark.slow
def test_two_notebooks_in_one_folder_keep_separate_stores(tmp_path) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    a, b = str(folder / "a.ipynb"), str(folder / "b.ipynb")
    with kernel(JPY_SESSION_NAME=a) as (_, kc):
        result(kc, "ext.table('shared_name').owner = 'a'")
    with kernel(JPY_SESSION_NAME=b) as (_, kc):
        assert result(kc, "ext.table('shared_name').owner") == "nil"
        result(kc, "ext.table('shared_name').owner = 'b'")
    with kernel(JPY_SESSION_NAME=a) as (_, kc):
        assert result(kc, "ext.table('shared_name').owner") == "a"
    stores = sorted(p.name for p in (folder / ".ipynb_checkpoints").iterdir())
    assert stores == ["a.ipynb.lua-wasm", "b.ipynb.lua-wasm"]


@pytest.mark.slow
def test_a_corrupt_file_warns_in_the_notebook(tmp_path) -> None:
    store = tmp_path / "nb.ipynb.lua-wasm"
    store.mkdir()
    (store / "ext-broken.pickle").write_bytes(b"\x80\x05garbage")
    with kernel(LUA_WASM_CHECKPOINT_DIR=str(tmp_path), JPY_SESSION_NAME=str(tmp_path / "nb.ipynb")) as (_, kc):
        reply, messages = run(kc, "return #ext.tables()")
        assert reply["content"]["status"] == "ok"
        warning = stream_text(messages, "stderr")
        assert "ext-broken.pickle is unreadable" in warning and "moved aside" in warning
        assert (store / "ext-broken.pickle.corrupt").exists()


# -- names that differ only in case, headers, and one kernel per store (issue 7, item 13)

def test_names_differing_only_in_case_get_files_that_differ_without_case(tmp_path) -> None:
    files = TableFiles(tmp_path, [].append)
    for name in ("Data", "data", "DATA", "dAtA"):
        files.save(name, {encode(1): encode(name)})
    names = [p.name for p in tmp_path.iterdir()]
    assert len({n.lower() for n in names}) == 4  # one file each on macOS and Windows too
    assert quote_name("data") == "data"  # lower-case names keep their files
    assert quote_name("Data") == "^data" and quote_name("a^B") == "a%5E^b"
    assert {name: decode(items[encode(1)]) for name, items in files.load_all()} == {
        n: n for n in ("Data", "data", "DATA", "dAtA")
    }


def test_a_file_of_an_earlier_version_is_read_and_renamed(tmp_path) -> None:
    files = TableFiles(tmp_path, [].append)
    files.save("Data", {encode(1): encode("old")})
    files.path_for("Data").rename(tmp_path / "ext-Data.pickle")  # as versions before case marks named it
    assert [(name, decode(items[encode(1)])) for name, items in files.load_all()] == [("Data", "old")]
    assert [p.name for p in tmp_path.iterdir()] == ["ext-^data.pickle"]


def test_a_second_kernel_on_the_store_warns_and_keeps_its_changes_in_memory(tmp_path, runtime) -> None:
    first_vm, first, _ = _checkpoints(tmp_path, runtime)
    cell(first_vm, first, "ext.table('t').v = 'first'")
    second_vm, second, shown = _checkpoints(tmp_path, runtime)
    assert cell(second_vm, second, "local t = ext.table('t') t.v = 'second' return t.v", shown) == ["second"]
    warning = "".join(shown)
    assert "another kernel is using this notebook's external tables" in warning and "not saved" in warning
    assert "".join(shown).count("another kernel") == 1  # once, not every cell
    cell(second_vm, second, "ext.table('t').w = 1", shown)
    assert "".join(shown).count("another kernel") == 1
    assert cell(first_vm, first, "ext.table('t').v") == ["first"]
    third_vm, third, _ = _checkpoints(tmp_path, runtime)  # still locked by the first
    assert cell(third_vm, third, "ext.table('t').v") == ["first"]


def test_a_store_is_adopted_only_from_the_same_kernel_id(tmp_path, runtime) -> None:
    old = tmp_path / "Untitled.ipynb.lua-wasm"
    vm = LuaVM(runtime=runtime)
    cp = Checkpoints(vm, old, kernel_id="abc")
    cell(vm, cp, "ext.table('t').v = 1")
    assert (old / "kernel-id").read_text() == "abc"
    other_vm = LuaVM(runtime=runtime)
    other = Checkpoints(other_vm, tmp_path / "Other.ipynb.lua-wasm", kernel_id="xyz")
    assert cell(other_vm, other, "ext.table('t').v") == [None] and old.exists()


def test_headless_runs_get_a_named_store(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert store_folder("", {}, store_name="analysis.ipynb") == tmp_path / ".ipynb_checkpoints" / "analysis.ipynb.lua-wasm"
    # jupyter_server's session name wins.
    env = {"JPY_SESSION_NAME": str(tmp_path / "served.ipynb")}
    assert store_folder("", env, store_name="analysis.ipynb").name == "served.ipynb.lua-wasm"


@pytest.mark.slow
def test_tables_follow_the_notebook_through_a_rename(tmp_path) -> None:
    # JupyterLab: Untitled.ipynb, first Ctrl+S renames it, Kernel > Restart hands the
    # restarted kernel (same connection file, same kernel id) the new JPY_SESSION_NAME.
    folder = tmp_path / "project"
    folder.mkdir()
    with kernel(JPY_SESSION_NAME=str(folder / "Untitled.ipynb")) as (km, kc):
        result(kc, "ext.table('demo').count = 3")
        env = dict(km._launch_args["env"], JPY_SESSION_NAME=str(folder / "Renamed.ipynb"))
        km.restart_kernel(now=True, env=env)
        kc.wait_for_ready(timeout=30)
        reply, messages = run(kc, "return ext.table('demo').count")
        assert reply["content"]["status"] == "ok"
        shown = [m["content"]["data"]["text/plain"] for m in messages if m["msg_type"] == "execute_result"]
        assert shown == ["3"]
        assert "the notebook was renamed" in stream_text(messages, "stderr")
    stores = sorted(p.name for p in (folder / ".ipynb_checkpoints").iterdir())
    assert stores == ["Renamed.ipynb.lua-wasm"]


@pytest.mark.slow
def test_a_second_kernel_on_one_notebook_warns_in_its_first_cell(tmp_path) -> None:
    notebook = str(tmp_path / "nb.ipynb")
    with kernel(JPY_SESSION_NAME=notebook) as (_, first):
        result(first, "ext.table('t').v = 'first'")
        with kernel(JPY_SESSION_NAME=notebook) as (_, second):
            reply, messages = run(second, "ext.table('t').v = 'second' return ext.table('t').v")
            assert reply["content"]["status"] == "ok"
            assert "another kernel is using this notebook's external tables" in stream_text(messages, "stderr")
        assert result(first, "ext.table('t').v") == 'first'
    with kernel(JPY_SESSION_NAME=notebook) as (_, kc):
        assert result(kc, "ext.table('t').v") == 'first'


def test_the_kernel_id_comes_from_the_connection_files_name() -> None:
    from lua_wasm_kernel.persistence import kernel_id_from_connection_file

    assert kernel_id_from_connection_file("/run/jupyter/kernel-4f1c-99.json") == "4f1c-99"  # jupyter_server's
    assert kernel_id_from_connection_file("/tmp/tmp_ab12.json") == "tmp_ab12"  # jupyter_client's own
    assert kernel_id_from_connection_file("") == ""
