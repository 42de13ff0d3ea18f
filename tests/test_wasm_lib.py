"""The `wasm` library: memory figures and garbage collection for users."""
from __future__ import annotations

from lua_wasm_kernel.abi import Status
from lua_wasm_kernel.vm import LuaVM


def test_memory_gives_used_peak_and_limit(vm: LuaVM) -> None:
    (m,) = vm.eval("wasm.memory()").values
    m = m.to_dict()
    assert set(m) == {"used", "peak", "limit", "heap", "lua"}
    assert m["limit"] == 2 * 1024 * 1024
    assert 0 < m["lua"] <= m["used"] <= m["peak"] <= m["heap"] < m["limit"]
    # The same figures as the host's.
    stats = vm.memory_stats()
    assert (m["limit"], m["heap"]) == (stats.limit_bytes, stats.heap_capacity_bytes)
    before = m["used"]
    (after,) = vm.eval("keep = string.rep('x', 200000) return wasm.memory().used").values
    assert after > before and after > 200000


def test_memory_reports_the_chosen_limit(runtime) -> None:
    vm = LuaVM(runtime=runtime, memory_bytes=4 * 1024 * 1024)
    assert vm.eval("wasm.memory().limit").values == [4 * 1024 * 1024]


def test_gc_collects_and_reports_what_it_freed(vm: LuaVM) -> None:
    assert vm.eval("garbage = {} for i = 1, 5000 do garbage[i] = {i} end").ok
    used_before = vm.eval("wasm.memory().used").values[0]
    freed, used = vm.eval("garbage = nil return wasm.gc()").values
    assert freed > 5000 * 16
    assert used < used_before and abs(used - vm.memory_stats().used_bytes) < 4096
    # Nothing left to free the second time (or very little).
    freed_again, _ = vm.eval("wasm.gc()").values
    assert freed_again < 4096


def test_wasm_is_a_module(vm: LuaVM) -> None:
    r = vm.eval("require('wasm') == wasm, type(wasm.memory), type(wasm.snapshot)")
    assert r.status == Status.OK and r.values == [True, "function", "function"]
