"""The shared table of cases (tests/shared/introspection_cases.json) against the
Python kernel: complete, inspect, is_complete, the lexer's rules and help(x)'s
text, and the calls to lua/introspect.lua each made. jupyterlite/test/
shared_cases.test.ts runs the same table against the browser kernel's
TypeScript, answering its VM calls from the table, so the two hosts answer alike."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lua_wasm_kernel import introspect, lexer
from lua_wasm_kernel.complete import complete
from lua_wasm_kernel.inspect import help_text, inspect
from lua_wasm_kernel.is_complete import is_complete
from lua_wasm_kernel.serializer import LuaTable
from lua_wasm_kernel.vm import LuaVM

CASES_PATH = Path(__file__).with_name("shared") / "introspection_cases.json"
CASES: list[dict[str, Any]] = json.loads(CASES_PATH.read_text(encoding="utf-8"))["cases"]
INFO = 'return debug.getregistry()["lua_wasm.introspect"].info({})'


def canonical(value: Any, helper: str = "") -> Any:
    """A VM's answer as the table keeps it: tables as sorted pairs, complete's lines sorted (Lua's order varies)."""
    if isinstance(value, LuaTable):
        return {"lua_table": sorted(([canonical(k), canonical(v)] for k, v in value.pairs), key=json.dumps)}
    if isinstance(value, bytes):
        return {"bytes": value.hex()}  # a Lua string that is not UTF-8
    if helper == "complete" and isinstance(value, str):
        return "\n".join(sorted(value.splitlines()))
    if value is not None and not isinstance(value, (str, int, bool)):
        raise TypeError(f"the table has no form for {value!r}")
    return value


def answer(vm: LuaVM, case: dict[str, Any], calls: list[list[Any]]) -> Any:
    """What the Python kernel answers to the case's request; its introspect.lua calls go into `calls`."""
    request, code = case["request"], case.get("code", "")
    if request == "complete":
        return complete(vm, code, case["cursor"])
    if request == "inspect":
        return inspect(vm, code, case["cursor"], case["detail_level"], dict(case["cells"]))
    if request == "is_complete":
        return is_complete(vm, code)
    if request == "help":
        facts = vm.eval(INFO.format(case["value"])).values
        calls.append(["info", [case["value"]], canonical(facts[0] if facts else None)])
        return help_text(case["name_arg"], facts[0] if facts else None)
    if request == "open_blocks":
        return lexer.open_blocks(code)
    if request in ("in_string_or_comment", "open_call"):
        return getattr(lexer, request)(code, case["cursor"])
    raise ValueError(f"unknown request {request!r} in {CASES_PATH.name}")


def test_the_table_covers_every_request() -> None:
    requests = {c["request"] for c in CASES}
    assert requests == {"complete", "inspect", "is_complete", "help", "in_string_or_comment", "open_call", "open_blocks"}
    assert len({c["name"] + c["request"] for c in CASES}) == len(CASES), "case names are unique per request"


@pytest.mark.parametrize("case", CASES, ids=[f'{c["request"]}: {c["name"]}' for c in CASES])
def test_python_kernel(introspect_vm: LuaVM, case: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    for chunk_name, code in case["cells"]:
        assert introspect_vm.eval(code, chunk_name).ok, code
    calls: list[list[Any]] = []
    real_call = introspect.call

    def recorded(vm: LuaVM, helper: str, *args: str) -> Any:
        value = real_call(vm, helper, *args)
        calls.append([helper, list(args), canonical(value, helper)])
        return value

    monkeypatch.setattr(introspect, "call", recorded)
    assert answer(introspect_vm, case, calls) == case["reply"]
    assert calls == case.get("vm", [])
