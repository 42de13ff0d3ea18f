"""Calling the module's exports without wasmtime-py's per-call type lookups.

`wasmtime.Func.__call__` asks wasmtime for the function's type and converts
each argument through it on every call, about 20 µs; an eval makes several
calls. Our exports take and return only i32 (docs/ABI.md), so the raw call
is prepared once per export. This uses wasmtime-py's ctypes bindings
(`wasmtime._ffi`, `wasmtime._func.enter_wasm`), a private API: the
`wasmtime==50.*` pin in pyproject.toml keeps it stable, and
tests/test_module.py checks every export still goes through here.
"""
from __future__ import annotations

import ctypes

import wasmtime
from wasmtime import _ffi as ffi
from wasmtime._func import enter_wasm


class ExportCall:
    """One i32-only export of one instance, callable like a function."""

    __slots__ = ("_store", "_func", "_params", "_results", "_nparams", "_nresults")

    def __init__(self, store: wasmtime.Store, func: wasmtime.Func) -> None:
        ty = func.type(store)
        i32 = wasmtime.ValType.i32()
        if any(t != i32 for t in [*ty.params, *ty.results]) or len(ty.results) > 1:
            raise TypeError(f"export of type {ty} is not i32-only")
        self._store = store
        self._func = func._func
        self._nparams = len(ty.params)
        self._nresults = len(ty.results)
        self._params = (ffi.wasmtime_val_t * max(1, self._nparams))()
        self._results = (ffi.wasmtime_val_t * 1)()
        for val in self._params:
            val.kind = ffi.WASMTIME_I32

    def __call__(self, *args: int) -> int | None:
        if len(args) != self._nparams:
            raise TypeError(f"expected {self._nparams} arguments, got {len(args)}")
        params = self._params
        for i, arg in enumerate(args):
            params[i].of.i32 = arg
        with enter_wasm(self._store) as trap:
            error = ffi.wasmtime_func_call(
                self._store._context(), ctypes.byref(self._func),
                params, self._nparams, self._results, self._nresults, trap,
            )
            if error:
                raise wasmtime.WasmtimeError._from_ptr(error)
        return self._results[0].of.i32 if self._nresults else None
