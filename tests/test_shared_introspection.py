"""The shared table of cases (tests/shared/introspection_cases.json) against the
Python kernel: complete, inspect, is_complete, the lexer's rules and help(x)'s
text. jupyterlite/test/shared_cases.test.ts runs the same table against the
browser kernel's TypeScript, so the two hosts answer alike."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lua_wasm_kernel import lexer
from lua_wasm_kernel.complete import complete
from lua_wasm_kernel.inspect import help_text, inspect
from lua_wasm_kernel.is_complete import is_complete
from lua_wasm_kernel.vm import LuaVM

CASES_PATH = Path(__file__).with_name("shared") / "introspection_cases.json"
CASES: list[dict[str, Any]] = json.loads(CASES_PATH.read_text(encoding="utf-8"))["cases"]
INFO = 'return debug.getregistry()["lua_wasm.introspect"].info({})'


def answer(vm: LuaVM, case: dict[str, Any]) -> Any:
    """What the Python kernel answers to the case's request."""
    request, code = case["request"], case.get("code", "")
    if request == "complete":
        return complete(vm, code, case["cursor"])
    if request == "inspect":
        return inspect(vm, code, case["cursor"], case["detail_level"], dict(case["cells"]))
    if request == "is_complete":
        return is_complete(vm, code)
    if request == "help":
        facts = vm.eval(INFO.format(case["value"])).values
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
def test_python_kernel(introspect_vm: LuaVM, case: dict[str, Any]) -> None:
    for chunk_name, code in case["cells"]:
        assert introspect_vm.eval(code, chunk_name).ok, code
    assert answer(introspect_vm, case) == case["reply"]
