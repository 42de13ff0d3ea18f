"""The engine through its Python host: eval, output, errors, limits."""
from __future__ import annotations

import math
import threading
import time

import pytest

from lua_wasm_kernel.abi import Status, Stream
from lua_wasm_kernel.serializer import Cycle, LuaTable, Opaque
from lua_wasm_kernel.vm import EvalAborted, LuaVM


def test_expression_values_and_display(vm: LuaVM) -> None:
    r = vm.eval("1 + 2")
    assert r.status == Status.OK and r.values == [3] and r.display == ["3"]
    r = vm.eval("2^10")
    assert r.values == [1024.0] and r.display == ["1024.0"]
    r = vm.eval("return 1, 'two', nil, true")
    assert r.values == [1, "two", None, True]
    assert r.display == ["1", "two", "nil", "true"]


def test_globals_persist_across_evals(vm: LuaVM) -> None:
    assert vm.eval("x = 41").values == []
    assert vm.eval("function inc(v) return v + 1 end").ok
    assert vm.eval("inc(x)").values == [42]


def test_statements_then_expression_rule(vm: LuaVM) -> None:
    # `return local x = 1` does not parse, so the cell runs as statements.
    r = vm.eval("local y = 5\nz = y * 2")
    assert r.ok and r.values == []
    assert vm.eval("z").values == [10]


def test_statements_then_a_final_expression_line(vm: LuaVM) -> None:
    # Both of lua.c's forms fail here; the last line is then returned.
    r = vm.eval("t = {1, 2}\nlocal n = #t\nn * 10, t[2]\n")
    assert r.ok and r.values == [20, 2]
    r = vm.eval("y = 1\ny = = 2", chunk_name="[cell 4]")
    assert r.status == Status.SYNTAX_ERROR and r.error.startswith("[cell 4]:2:")
    assert vm.eval("u = 1\nu;").values == []


def test_trailing_semicolon_hides_the_value(vm: LuaVM) -> None:
    r = vm.eval("1 + 1;")
    assert r.ok and r.values == [] and r.display == []
    assert vm.eval("t = {1};").ok
    assert vm.eval("#t").values == [1]


def test_tables_by_value_and_pretty_display(vm: LuaVM) -> None:
    r = vm.eval("{1, 2, {a = 3}, name = 'x'}")
    (value,) = r.values
    assert isinstance(value, LuaTable)
    d = value.to_dict()
    assert d[1] == 1 and d[2] == 2 and d["name"] == "x"
    assert d[3].to_dict() == {"a": 3}
    assert r.display == ['{1, 2, {a = 3}, name = "x"}']


def test_cycles_are_marked(vm: LuaVM) -> None:
    r = vm.eval("local t = {name = 'root'}; t.self = t; return t")
    pairs = r.values[0].to_dict()
    assert pairs["self"] == Cycle(0)
    assert "<cycle: table: 0x" in r.display[0]


def test_long_tables_display_on_several_lines(vm: LuaVM) -> None:
    r = vm.eval("local t = {} for i = 1, 30 do t['key' .. i] = i end return t")
    assert r.display[0].startswith("{\n  key1 = 1,\n")
    assert r.display[0].endswith("\n}")


def test_opaque_values_and_tostring(vm: LuaVM) -> None:
    r = vm.eval("print")
    assert isinstance(r.values[0], Opaque) and r.values[0].lua_type == "function"
    assert r.display[0].startswith("function: ")
    r = vm.eval("setmetatable({}, {__tostring = function() return 'custom!' end})")
    assert r.display == ["custom!"]


def test_floats_and_special_numbers(vm: LuaVM) -> None:
    r = vm.eval("1/0, -1/0, 0/0, math.maxinteger, math.mininteger, 0.1")
    inf, ninf, nan, imax, imin, tenth = r.values
    assert inf == math.inf and ninf == -math.inf and math.isnan(nan)
    assert imax == 2**63 - 1 and imin == -(2**63) and tenth == 0.1
    assert r.display[:2] == ["inf", "-inf"]


def test_print_and_io_write_stream_in_order(vm: LuaVM, output) -> None:
    code = "for i = 1, 2000 do print('line', i) end io.write('tail', 1.0, ' ', 2, '\\n')"
    assert vm.eval(code, on_output=output).ok
    lines = output.text().splitlines()
    assert lines[0] == "line\t1" and lines[1999] == "line\t2000"
    assert lines[2000] == "tail1 2"  # io.write prints floats as liolib does (%.14g)
    assert len(lines) == 2001


def test_more_than_64k_of_output_is_complete(vm: LuaVM, output) -> None:
    code = "for i = 1, 20000 do print(string.format('%06d', i)) end"
    assert vm.eval(code, on_output=output).ok
    lines = output.text().splitlines()
    assert lines == [f"{i:06d}" for i in range(1, 20001)]
    assert len(output.chunks) > 1  # it was flushed while running, in pieces


def test_one_huge_write_is_not_cut(vm: LuaVM, output) -> None:
    assert vm.eval("io.write(string.rep('ab', 100000))", on_output=output).ok
    assert output.text() == "ab" * 100000


def test_stderr_is_separate_and_ordered(vm: LuaVM, output) -> None:
    assert vm.eval("print('a') io.stderr:write('b\\n') print('c')", on_output=output).ok
    assert output.chunks == [(Stream.STDOUT, "a\n"), (Stream.STDERR, "b\n"), (Stream.STDOUT, "c\n")]


def test_utf8_split_across_flushes_is_decoded(vm: LuaVM, output) -> None:
    # 65535 ASCII bytes put the 2-byte 'é' across the 64 KiB buffer boundary.
    assert vm.eval("io.write(string.rep('a', 65535), 'é', 'z')", on_output=output).ok
    assert output.text() == "a" * 65535 + "éz"


def test_runtime_error_with_traceback_then_recovery(vm: LuaVM) -> None:
    vm.eval("kept = 'still here'")
    r = vm.eval("local function boom() error('kaboom') end\nboom()", chunk_name="[cell 7]")
    assert r.status == Status.RUNTIME_ERROR
    assert r.error == "[cell 7]:1: kaboom"
    assert r.traceback.startswith("stack traceback:")
    assert "in function 'error'" in r.traceback and "[cell 7]:2: in main chunk" in r.traceback
    assert "[C]: in ?" not in r.traceback
    assert vm.eval("kept").values == ["still here"]


def test_error_objects_that_are_not_strings(vm: LuaVM) -> None:
    assert vm.eval("error({code = 1})").error == "(error object is a table value)"
    r = vm.eval("error(setmetatable({}, {__tostring = function() return 'custom error' end}))")
    assert r.error == "custom error"


def test_syntax_error(vm: LuaVM) -> None:
    r = vm.eval("x = = 1", chunk_name="[cell 2]")
    assert r.status == Status.SYNTAX_ERROR
    assert r.error.startswith("[cell 2]:1:") and "near '='" in r.error
    assert vm.eval("1").ok


def test_memory_cap_is_a_clean_error_and_the_vm_goes_on(vm: LuaVM) -> None:
    vm.eval("survivor = {1, 2, 3}")
    r = vm.eval("local t = {} for i = 1, 1e7 do t[i] = i end")
    assert r.status == Status.OUT_OF_MEMORY
    assert "not enough memory" in r.error
    r = vm.eval("string.rep('x', 3 * 1024 * 1024)")
    assert r.status == Status.OUT_OF_MEMORY
    assert vm.eval("#survivor").values == [3]
    stats = vm.memory_stats()
    assert stats.limit_bytes == 2 * 1024 * 1024
    assert stats.peak_bytes <= stats.heap_capacity_bytes < stats.limit_bytes


def test_deep_recursion_is_stack_overflow_not_a_trap(vm: LuaVM) -> None:
    r = vm.eval("local function f(n) return 1 + f(n + 1) end return f(1)")
    assert r.status == Status.RUNTIME_ERROR
    assert "stack overflow" in r.error
    r = vm.eval("local function g(n) return select('#', string.rep('x', 1), g(n + 1)) end return g(1)")
    assert r.status == Status.RUNTIME_ERROR
    assert vm.eval("1 + 1").values == [2]


def test_c_stack_overflow_is_an_error(vm: LuaVM) -> None:
    # Each level re-enters the VM from C (a metamethod): limited by LUAI_MAXCCALLS.
    code = "local t = setmetatable({}, {__index = function(t, k) return t[k + 1] end}) return t[1]"
    r = vm.eval(code)
    assert r.status == Status.RUNTIME_ERROR
    assert "stack overflow" in r.error or "C stack overflow" in r.error
    assert vm.eval("2").values == [2]


def test_cells_larger_than_the_io_buffer(vm: LuaVM) -> None:
    body = "-- " + "c" * 70000 + "\n" + "\n".join(f"v{i} = {i}" for i in range(3000))
    assert len(body) > 64 * 1024
    assert vm.eval(body + "\nreturn v2999, #[[" + "x" * 90000 + "]]").values == [2999, 90000]


def test_values_larger_than_the_io_buffer(vm: LuaVM) -> None:
    r = vm.eval("string.rep('xyz', 100000)")
    assert r.values == ["xyz" * 100000]
    r = vm.eval("local t = {} for i = 1, 12000 do t[i] = i end return t")
    assert len(r.values[0].pairs) == 12000  # a reply of about 200 KB


def test_binary_strings_stay_bytes(vm: LuaVM) -> None:
    assert vm.eval("'\\xff\\x00a'").values == [b"\xff\x00a"]


def test_memory_stats_and_gc(vm: LuaVM) -> None:
    vm.eval("garbage = {} for i = 1, 5000 do garbage[i] = {i} end")
    before = vm.memory_stats()
    assert before.lua_bytes > 5000 * 16
    vm.eval("garbage = nil")
    freed = vm.gc()
    after = vm.memory_stats()
    assert freed > 5000 * 16
    assert after.lua_bytes < before.lua_bytes and after.used_bytes < before.used_bytes
    assert before.peak_bytes >= before.used_bytes


def test_reset_starts_a_fresh_state(vm: LuaVM) -> None:
    vm.eval("x = 1")
    vm.reset()
    assert vm.eval("x").values == [None]


def test_custom_memory_size(runtime) -> None:
    big = LuaVM(memory_bytes=8 * 1024 * 1024, runtime=runtime)
    assert big.memory_stats().limit_bytes == 8 * 1024 * 1024
    r = big.eval("local t = {} for i = 1, 200000 do t[i] = i end return #t")
    assert r.values == [200000]
    with pytest.raises(ValueError, match="multiple of 64 KiB"):
        LuaVM(memory_bytes=3 * 1024 * 1024 + 1, runtime=runtime)


def test_real_clocks(vm: LuaVM) -> None:
    import time

    now = vm.eval("os.time()").values[0]
    assert abs(now - time.time()) < 5
    assert vm.eval("os.date('!%Y', 0)").values == ["1970"]
    assert vm.eval("os.time({year = 2000, month = 1, day = 1, hour = 0})").values == [946684800]
    assert vm.eval("os.date('!*t', 86400).day").values == [2]
    c1 = vm.eval("os.clock()").values[0]
    vm.eval("local x = 0 for i = 1, 2e6 do x = x + i end")
    assert vm.eval("os.clock()").values[0] > c1
    assert vm.eval("os.getenv('HOME')").values == [None]


def test_random_seed_differs_between_vms(runtime) -> None:
    draws = {LuaVM(runtime=runtime).eval("math.random(1, 1 << 40)").values[0] for _ in range(3)}
    assert len(draws) > 1


def test_sandbox_removes_files_and_processes_clearly(vm: LuaVM) -> None:
    r = vm.eval("os.execute('ls')")
    assert r.status == Status.RUNTIME_ERROR and "not available in the lua-wasm sandbox" in r.error
    assert "'popen' not supported" in vm.eval("io.popen('ls')").error  # liolib's own
    # A bare VM allows no files (tests/test_io.py covers file_access).
    assert vm.eval("io.open('x')").values == [None, "x: Permission denied", 13]
    assert vm.eval("os.remove('x')").values == [None, "x: Permission denied", 13]
    r = vm.eval("dofile('/etc/passwd')")
    assert r.status == Status.RUNTIME_ERROR and "cannot open" in r.error


# -- Found by the official Lua test suite (tests/test_lua_testsuite.py)


def test_require_serves_loaded_and_preloaded_modules(vm: LuaVM) -> None:
    # loadlib.c is compiled in (without dlopen): require and package.* are Lua's own.
    assert vm.eval("require'string' == string and require'io' == io and require'debug' == debug").values == [True]
    r = vm.eval("package.preload.m = function(...) return {...} end; local m, extra = require'm' return m[1], m[2], extra, require'm' == m")
    assert r.values == ["m", ":preload:", ":preload:", True]
    r = vm.eval("return package.loadlib('lib.so', 'f')")
    assert r.values == [None, "dynamic libraries not enabled; check your Lua installation", "absent"]
    r = vm.eval("pcall(require, 'no_such_module')")
    assert r.values[0] is False and r.values[1].startswith("module 'no_such_module' not found:\n\tno field package.preload")


def test_io_write_errors_name_the_function_and_point_at_the_caller(vm: LuaVM) -> None:
    # io.write and file:write are C functions, as in liolib, not Lua wrappers in the prelude.
    r = vm.eval("io.write({})", "=cell")
    assert r.error == "cell:1: bad argument #1 to 'write' (string expected, got table)"
    assert vm.eval("(io.write or print){}", "=cell").error == "cell:1: bad argument #1 to 'io.write' (string expected, got table)"
    assert vm.eval("io.stderr:write({})", "=cell").error == "cell:1: bad argument #1 to 'write' (string expected, got table)"
    assert "(FILE* expected, got table)" in vm.eval("io.stdout.write({})").error
    assert vm.eval("io.write('') == io.stdout and io.stderr:write() == io.stderr").values == [True]


def test_os_date_follows_loslib(vm: LuaVM) -> None:
    assert vm.eval("os.date('\\0\\0', 0), os.date('!', 0), os.date('', 0)").values == ["\0\0", "", ""]
    assert vm.eval("#os.date(string.rep('a', 10000)), #os.date(string.rep('%Y', 1000), 0)").values == [10000, 4000]
    assert vm.eval("os.date('%Ey|%Od|%%|%H:%M:%S', 3661)").values == ["70|01|%|01:01:01"]
    for bad in ("%", "%9", "%E", "%Ea", "%O"):
        r = vm.eval(f"os.date('{bad}')")
        assert r.status == Status.RUNTIME_ERROR
        assert f"bad argument #1 to 'date' (invalid conversion specifier '{bad}')" in r.error


def test_os_time_normalizes_its_table(vm: LuaVM) -> None:
    r = vm.eval("local t = {year = 2005, month = 1, day = 1, hour = 1, min = 0, sec = -3602} "
                "os.time(t) return t.year, t.month, t.day, t.hour, t.min, t.sec, t.yday, t.isdst")
    assert r.values == [2004, 12, 31, 23, 59, 58, 366, False]
    r = vm.eval("os.time{year = -math.maxinteger, month = 1, day = 1}")
    assert "field 'year' is out-of-bound" in r.error
    assert "field 'hour' is not an integer" in vm.eval("os.time{year = 2000, month = 1, day = 1, hour = 1.5}").error


def test_os_setlocale_knows_only_the_c_locale(vm: LuaVM) -> None:
    r = vm.eval("os.setlocale(), os.setlocale('C'), os.setlocale(''), os.setlocale('C', 'numeric'), os.setlocale('pt_BR')")
    assert r.values == ["C", "C", "C", "C", None]
    assert "invalid option 'x'" in vm.eval("os.setlocale('C', 'x')").error


def test_warnings_are_off_until_on_and_go_to_stderr(vm: LuaVM, output) -> None:
    assert vm.eval("warn('hidden')", on_output=output).ok
    assert output.text() == ""
    assert vm.eval("warn('@on') warn('hello') warn('multi', 'part') warn('@off') warn('gone')", on_output=output).ok
    assert output.chunks == [(Stream.STDERR, "Lua warning: hello\nLua warning: multipart\n")]


# -- rollback: a cell stopped by force or trapped leaves the state of its start

# Backtracks for minutes: no Lua hook runs inside the pattern matcher.
SLOW_PATTERN = "string.find(string.rep('a', 40), string.rep('a-', 40) .. 'b')"


def _interrupt_once_running(vm: LuaVM) -> threading.Thread:
    """Interrupts `vm` as soon as an eval runs (vm.interrupt() is False while idle)."""

    def fire() -> None:
        deadline = time.monotonic() + 30
        while not vm.interrupt() and time.monotonic() < deadline:
            time.sleep(0.005)

    thread = threading.Thread(target=fire, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize(
    "code",
    [
        f"changed = 'by the stopped cell' return {SLOW_PATTERN}",
        "changed = 'by the stopped cell' return string.rep('ab', 2^15):find('(.-)%1%1c')",
    ],
    ids=["pattern", "string.rep"],
)
def test_a_cell_stopped_by_force_rolls_back_to_its_start(vm: LuaVM, code: str) -> None:
    vm.watcher.escalate_after = 0.05
    vm.eval("kept = {1, 2, 3} changed = 'before' function f() return #kept end")
    thread = _interrupt_once_running(vm)
    r = vm.eval(code)
    thread.join()
    assert r.status == Status.TRAPPED
    assert vm.watcher.escalations == 1
    assert "stopped by force" in r.error
    assert "rolled back to before this cell" in r.error and "external tables are not rolled back" in r.error
    assert vm.eval("f(), changed").values == [3, "before"]
    assert vm.eval("kept[4] = 4 return f()").values == [4]  # the restored state works on


def test_a_host_callback_failure_rolls_back_and_raises(vm: LuaVM) -> None:
    vm.eval("kept = 'yes'")

    def on_output(stream: Stream, text: str) -> None:
        raise RuntimeError("the frontend is gone")

    with pytest.raises(EvalAborted, match="RuntimeError: the frontend is gone; the Lua state was rolled back"):
        vm.eval("kept = 'no' changed = true print(string.rep('x', 100000))", on_output=on_output)
    assert vm.eval("kept, changed").values == ["yes", None]


def test_above_the_rollback_size_a_forced_stop_resets_and_says_so(runtime) -> None:
    vm = LuaVM(runtime=runtime, rollback_bytes_max=0)
    vm.watcher.escalate_after = 0.05
    vm.eval("lost = 1")
    thread = _interrupt_once_running(vm)
    r = vm.eval(f"return {SLOW_PATTERN}")
    thread.join()
    assert r.status == Status.TRAPPED
    assert "the Lua state was reset" in r.error and "rollback_memory_max" in r.error
    assert vm.eval("lost").values == [None]


@pytest.mark.parametrize(
    "code, line",
    [
        ("local t = {}\nfor i = 1, 1e8 do\n  t[i] = i\nend", 3),
        ("x = 1\nlocal s = string.rep('x', 3e6)", 2),  # inside a C function: its Lua caller
        ("local t = {}\nfor i = 1, 20 do t[i] = string.rep('y', 1e5) end\nreturn table.concat(t)", 2),
    ],
)
def test_out_of_memory_names_the_cell_and_line(vm: LuaVM, code: str, line: int) -> None:
    r = vm.eval(code, "[cell 7]")
    assert r.status == Status.OUT_OF_MEMORY
    assert r.error == f"not enough memory (at [cell 7]:{line})"
    vm.eval("collectgarbage()")
    # A later out-of-memory error never shows a stale place.
    assert vm.eval("return 1", "[cell 8]").values == [1]
    assert vm.oom_where() is None


def test_the_smallest_memory_runs_the_kernels_helpers_and_a_cell(runtime) -> None:
    from lua_wasm_kernel import introspect
    from lua_wasm_kernel.abi import MEMORY_SIZE_MIN_BYTES

    vm = LuaVM(memory_bytes=MEMORY_SIZE_MIN_BYTES, runtime=runtime, init_scripts=[introspect.init_script()])
    assert vm.eval("local t = {} for i = 1, 1000 do t[i] = i end return #t").values == [1000]
    with pytest.raises(ValueError, match="from 512 KiB to 4194240 KiB"):
        LuaVM(memory_bytes=MEMORY_SIZE_MIN_BYTES - 64 * 1024, runtime=runtime)


@pytest.mark.parametrize("size", [3 * 2**30, 4 * 2**30 - 2**16])
def test_memory_stats_read_as_unsigned(runtime, size: int) -> None:
    # 3 GiB read back as a negative limit: the exports return u32, wasmtime gives i32.
    vm = LuaVM(memory_bytes=size, runtime=runtime, rollback_bytes_max=0)
    stats = vm.memory_stats()
    assert stats.limit_bytes == size
    assert size - 2**20 < stats.heap_capacity_bytes < size


def test_a_time_limit_interrupts_only_its_own_eval(vm: LuaVM) -> None:
    r = vm.eval("n = 0; while true do n = n + 1 end", time_limit_s=0.2)
    assert r.status == Status.INTERRUPTED and vm.eval("return n > 0").values == [True]
    # A limited eval that ends at once: its timer never touches the next eval,
    # which runs well past that limit.
    assert vm.eval("return 1", time_limit_s=0.05).values == [1]
    r = vm.eval("local t = os.clock() while os.clock() - t < 0.5 do end return 'done'")
    assert r.ok and r.values == ["done"], r.error
