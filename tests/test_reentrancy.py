"""Finalizers (`__gc`) run at almost any allocation, also while a cell is
parsed and between the two halves of a crossing into the host. These tests
make them run there on purpose, many times, and check that each crossing
keeps its own bytes: the cell's source, each host call's reply, each
external-table read. Each one fails on the engine before the fix (issue 7,
items 2 and 3); an untouched global must survive all of them."""
from __future__ import annotations

import struct

import pytest

from kernel_client import kernel, run
from lua_wasm_kernel import introspect
from lua_wasm_kernel.abi import Status
from lua_wasm_kernel.display import Display
from lua_wasm_kernel.ext_tables import FAILED
from lua_wasm_kernel.hostcall import TAKE_OK, TAKE_REFUSED
from lua_wasm_kernel.modules import ModuleFinder
from lua_wasm_kernel.vm import LuaVM, Runtime

# Cell A leaves 500 objects whose finalizers print; cell B is long enough that
# the lexer steps the GC while reading it (issue 7, item 2).
PRINTING_GARBAGE = 'for i=1,500 do setmetatable({}, {__gc=function() print("closing handle", i) end}) end'
LONG_CELL = "\n".join(f"local v{n} = 'item number {n}'" for n in range(1, 151)) + "\nreturn 'ok'"
# About one round in four failed before the fix: 40 rounds miss it with odds near 1e-5.
PARSE_ROUNDS = 40

# The collector never pauses and steps every 2^1 bytes (0 would mean "keep
# the current value"), so finalizers run at each allocation point, the
# crossing's among them; before the fix each of these cells failed.
EAGER_GC = 'collectgarbage("incremental", 1, 100, 1)\n'
NORMAL_GC = '\ncollectgarbage("incremental", 200, 100, 13)'
# A finalizer's error is only a warning: finalizers count their good runs.
COUNT_RUNS = "runs, good = 0, 0\n"
ALL_RUNS_GOOD = '\ncollectgarbage()\nassert(runs > 0 and good == runs, good .. " of " .. runs)'
HOST_CALL_IN_FINALIZERS = (
    EAGER_GC
    + COUNT_RUNS
    + "for i = 1, 2000 do\n"
    + "  setmetatable({}, {__gc = function()\n"
    + "    runs = runs + 1\n"
    + "    if type(ext.tables()) == 'table' then good = good + 1 end\n"
    + "  end})\n"
    + "  ext.tables()\n"
    + "end"
    + NORMAL_GC
    + ALL_RUNS_GOOD
)
EXT_READ_IN_FINALIZERS = (
    EAGER_GC
    + COUNT_RUNS
    + 't = ext.table("big"); t.v = string.rep("x", 1000); t.w = {string.rep("y", 2000)}\n'
    + "for i = 1, 2000 do\n"
    + "  setmetatable({}, {__gc = function()\n"
    + "    runs = runs + 1\n"
    + "    if #t.w[1] == 2000 then good = good + 1 end\n"
    + "  end})\n"
    + '  assert(t.v == string.rep("x", 1000))\n'
    + "  for k, v in pairs(t) do assert(k == 'v' or k == 'w') end\n"
    + "end"
    + NORMAL_GC
    + ALL_RUNS_GOOD
)
ROUNDS = 3


@pytest.fixture
def kernel_vm(runtime: Runtime) -> LuaVM:
    """A VM with the kernel's Lua helpers and host functions (display, require, ext)."""
    vm = LuaVM(runtime=runtime, init_scripts=[introspect.init_script()])
    Display(lambda msg_type, content: None).register(vm)
    ModuleFinder().register(vm)
    return vm


def untouched_global_survives(vm: LuaVM) -> None:
    r = vm.eval("return untouched")
    assert r.ok and r.values == ["still here"], r


# -------------------------------------------------------------- item 2


def test_finalizer_output_never_rewrites_the_cell_being_parsed(kernel_vm: LuaVM) -> None:
    vm = kernel_vm
    vm.eval("untouched = 'still here'")
    printed: list[str] = []
    for _ in range(PARSE_ROUNDS):
        assert vm.eval(PRINTING_GARBAGE, on_output=lambda s, t: printed.append(t)).ok
        r = vm.eval(LONG_CELL, on_output=lambda s, t: printed.append(t))
        assert r.ok and r.values == ["ok"], r.error
    vm.eval("collectgarbage()", on_output=lambda s, t: printed.append(t))
    # And no finalizer's output was lost on the way.
    assert "".join(printed).count("closing handle") == 500 * PARSE_ROUNDS
    untouched_global_survives(vm)


def test_a_host_function_cannot_start_an_eval_inside_one(kernel_vm: LuaVM) -> None:
    vm = kernel_vm
    vm.eval("untouched = 'still here'")
    statuses = []

    def nested() -> int:
        statuses.append(vm._call("lw_input_reserve", 10))
        statuses.append(vm._call("lw_eval", 0, 10))
        statuses.append(vm._call("lw_gc", 0))
        return 1

    vm.register_host_function("nested", nested)
    r = vm.eval('return select(2, debug.getregistry()["lua_wasm.prelude"].host_call("nested"))')
    assert r.ok and r.values == [1], r.error
    assert statuses == [0, Status.BAD_INPUT, -1]
    untouched_global_survives(vm)


# -------------------------------------------------------------- item 3


def test_host_calls_from_finalizers_get_their_own_replies(kernel_vm: LuaVM) -> None:
    vm = kernel_vm
    vm.eval("untouched = 'still here'")
    for _ in range(ROUNDS):
        r = vm.eval(HOST_CALL_IN_FINALIZERS)
        assert r.ok, r.error
    untouched_global_survives(vm)


def test_display_and_require_from_finalizers(kernel_vm: LuaVM, tmp_path, monkeypatch) -> None:
    """The kernel's own host functions, called from finalizers during other calls."""
    (tmp_path / "tiny.lua").write_text("return {n = 1}")
    monkeypatch.chdir(tmp_path)
    vm = kernel_vm
    ModuleFinder(tmp_path).register(vm)
    vm.eval("untouched = 'still here'")
    r = vm.eval(
        EAGER_GC
        + COUNT_RUNS
        + "for i = 1, 300 do\n"
        + "  setmetatable({}, {__gc = function()\n"
        + "    runs = runs + 1\n"
        + "    display.text('bye ' .. i)\n"
        + "    good = good + 1\n"
        + "  end})\n"
        + "  package.loaded.tiny = nil\n"
        + "  assert(require('tiny').n == 1)\n"
        + "end"
        + NORMAL_GC
        + ALL_RUNS_GOOD
    )
    assert r.ok, r.error
    untouched_global_survives(vm)


def test_external_table_reads_from_finalizers_get_their_own_values(kernel_vm: LuaVM) -> None:
    vm = kernel_vm
    vm.eval("untouched = 'still here'")
    for _ in range(ROUNDS):
        r = vm.eval(EXT_READ_IN_FINALIZERS)
        assert r.ok, r.error
    untouched_global_survives(vm)


def test_finalizers_during_the_rendering_of_results(kernel_vm: LuaVM) -> None:
    """render runs Lua while the reply is being built; finalizers cross meanwhile."""
    vm = kernel_vm
    vm.eval("untouched = 'still here'")
    vm.eval(EAGER_GC + "big = ext.table('r'); big.s = string.rep('z', 900)")
    r = vm.eval(
        "local shown = setmetatable({}, {__tostring = function()\n"
        + "  for i = 1, 500 do\n"
        + "    setmetatable({}, {__gc = function() ext.tables(); local _ = big.s end})\n"
        + "    assert(#ext.tables() == 1 and #big.s == 900)\n"
        + "  end\n"
        + "  return 'shown' end})\n"
        + "return shown, {1, 2, {3}}, string.rep('w', 70000)"
    )
    assert r.ok, r.error
    assert r.display[0] == "shown" and r.values[2] == "w" * 70000
    vm.eval(NORMAL_GC)
    untouched_global_survives(vm)


# -------------------------------------------------------------- the imports' checks


def test_a_take_that_does_not_match_is_refused_and_forgets_the_reply(vm: LuaVM) -> None:
    calls = vm.host_calls
    name = b"lua_wasm.ext.tables"
    args = struct.pack("<I", 0)
    at = vm._call("lw_io_buffer")  # empty between evals: room for these bytes
    vm.write(at, name + args)
    n = calls.call(at, len(name), at + len(name), len(args))
    assert n > 0
    assert calls.take(at, n + 1) == TAKE_REFUSED  # wrong length
    assert calls.take(at, n) == TAKE_REFUSED  # forgotten: nothing pending
    assert calls.take(at, 0) == TAKE_REFUSED
    n = calls.call(at, len(name), at + len(name), len(args))
    assert calls.take(vm.memory_bytes - 1, n) == TAKE_REFUSED  # past the end of memory
    n = calls.call(at, len(name), at + len(name), len(args))
    assert calls.take(-16, n) == TAKE_REFUSED  # a signed i32 is an address near 4 GiB
    n = calls.call(at, len(name), at + len(name), len(args))
    assert calls.take(at, n) == TAKE_OK


def test_a_call_with_bad_ranges_is_an_error_reply_not_an_exception(vm: LuaVM) -> None:
    calls = vm.host_calls
    assert calls.call(-8, 4, 0, 4) < 0  # name past the end of memory
    assert calls.call(vm.memory_bytes - 2, 4, 0, 4) < 0
    assert calls.call(0, 300, 0, 4) < 0  # name longer than the limit
    at = vm._call("lw_io_buffer")
    vm.write(at, b"lua_wasm.ext.tables" + b"\x07\x00\x00\x00")  # 7 arguments announced, none there
    n = calls.call(at, 19, at + 19, 4)
    assert n < 0
    assert calls.take(at, -1 - n) == TAKE_OK
    # An error reply is the message; it names the fault.
    message = vm.read(at, -1 - n).decode()
    assert "malformed arguments" in message
    vm.write(at, b"lua_wasm.ext.tables" + struct.pack("<I", 0) + b"\x00")  # a trailing byte
    n = calls.call(at, 19, at + 19, 5)
    assert n < 0 and calls.take(at, -1 - n) == TAKE_OK and "trailing" in vm.read(at, -1 - n).decode()


def test_external_table_imports_check_every_range(vm: LuaVM) -> None:
    from lua_wasm_kernel import ext_tables

    vm.eval("ext.table('c').k = 1")
    functions = vm._ext_imports[1]
    size = vm.memory_bytes
    table_id = vm.ext.open("c")
    for name in ("lw_ext_get", "lw_ext_set", "lw_ext_next"):
        # The slow path's wrapper: wasmtime-py hands i32 arguments over signed.
        for fn in (functions[name], ext_tables._checked(name, functions[name])):
            assert fn(table_id, size - 2, 8, 0, 0) == FAILED
            assert fn(table_id, 0, 0, size - 2, 8) == FAILED
            assert fn(table_id, 0xFFFF_FFF0, 32, 0, 0) == FAILED
        assert ext_tables._checked(name, functions[name])(table_id, -16, 32, 0, 0) == FAILED

    def raises(*args: int) -> int:
        raise RuntimeError("a bug in an import")

    assert ext_tables._checked("lw_ext_get", raises)(1, 2, 3, 4, 5) == FAILED


# -------------------------------------------------------------- through the kernel


def test_through_the_kernel_every_cell_is_answered_and_state_kept() -> None:
    """A lost reply left the frontend waiting forever: here run() would time out."""
    with kernel() as (_, kc):
        reply, _ = run(kc, "untouched = 'still here'")
        assert reply["content"]["status"] == "ok"
        for _ in range(ROUNDS):
            reply, _ = run(kc, HOST_CALL_IN_FINALIZERS)
            assert reply["content"]["status"] == "ok", reply["content"]
            reply, _ = run(kc, EXT_READ_IN_FINALIZERS)
            assert reply["content"]["status"] == "ok", reply["content"]
        for _ in range(PARSE_ROUNDS // 2):
            run(kc, PRINTING_GARBAGE)
            reply, messages = run(kc, LONG_CELL)
            assert reply["content"]["status"] == "ok", reply["content"]
            results = [m["content"]["data"]["text/plain"] for m in messages if m["msg_type"] == "execute_result"]
            assert results == ["ok"], results
        reply, messages = run(kc, "untouched")
        results = [m["content"]["data"]["text/plain"] for m in messages if m["msg_type"] == "execute_result"]
        assert reply["content"]["status"] == "ok" and results == ["still here"]
