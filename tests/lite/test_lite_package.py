"""The JupyterLite package against the Python host: the same lua.wasm (the
site serves the very bytes the Python kernel runs), the TypeScript ABI mirror
against abi.py, and the TypeScript host's own unit tests (node's runner)."""
from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from lua_wasm_kernel import abi

ROOT = Path(__file__).resolve().parents[2]
LITE = ROOT / "jupyterlite"
ABI_TS = LITE / "src" / "abi.ts"

# The tests that build the extension and the site need node, npm and jupyterlite-core.


@pytest.mark.browser
@pytest.mark.slow
def test_site_serves_the_python_kernels_lua_wasm(lite_site: Path) -> None:
    served = lite_site / "extensions" / "@lua-wasm" / "jupyterlite-kernel" / "static" / "lua.wasm"
    built = ROOT / "lua_wasm_kernel" / "lua.wasm"
    assert hashlib.sha256(served.read_bytes()).hexdigest() == hashlib.sha256(built.read_bytes()).hexdigest()


@pytest.mark.browser
@pytest.mark.slow
def test_site_serves_the_engines_lua_modules(lite_site: Path) -> None:
    static = lite_site / "extensions" / "@lua-wasm" / "jupyterlite-kernel" / "static" / "lua"
    for name in ("display", "require", "introspect"):
        assert (static / f"{name}.lua").read_bytes() == (ROOT / "lua_wasm_kernel" / "lua" / f"{name}.lua").read_bytes()


def _ts_constants() -> dict[str, int]:
    """`export const NAME = <integer expression>;` lines of abi.ts, evaluated."""
    values = {}
    for name, expr in re.findall(r"^export const ([A-Z_]+) = ([0-9 *+-]+);$", ABI_TS.read_text(), re.M):
        values[name] = eval(expr, {"__builtins__": {}})  # noqa: S307 -- digits and operators only
    return values


def _ts_list(name: str) -> list[str]:
    body = re.search(rf"export const {name} = \[(.*?)\] as const;", ABI_TS.read_text(), re.S)
    assert body is not None, name
    return re.findall(r"'([a-z_]+)'", body.group(1))


def _ts_enum(name: str) -> dict[str, int]:
    body = re.search(rf"export const {name} = \{{(.*?)\}} as const;", ABI_TS.read_text(), re.S)
    assert body is not None, name
    return {k: int(v, 0) for k, v in re.findall(r"([A-Z_]+): (0x[0-9a-fA-F]+|\d+)", body.group(1))}


def test_typescript_abi_mirrors_abi_py() -> None:
    constants = _ts_constants()
    assert constants, "no constants found in abi.ts"
    for name, value in constants.items():
        assert getattr(abi, name) == value, name
    assert _ts_list("EXPORTS") == list(abi.EXPORTS)
    assert _ts_list("IMPORTS") == list(abi.IMPORTS)
    assert _ts_list("INTERRUPT_LAYOUT_FIELDS") == list(abi.INTERRUPT_LAYOUT_FIELDS)
    assert _ts_enum("Status") == {s.name: int(s) for s in abi.Status}
    assert _ts_enum("Tag") == {t.name: int(t) for t in abi.Tag}
    assert _ts_enum("Stream") == {s.name: int(s) for s in abi.Stream}
    assert _ts_enum("Clock") == {c.name: int(c) for c in abi.Clock}
    for name, value in _ts_enum("Errno").items():
        assert abi.Errno[name] == value, name


@pytest.mark.browser
@pytest.mark.slow
def test_typescript_host_unit_tests(lite_site: Path) -> None:
    """jupyterlite/test/*.test.ts under node's test runner (the site fixture installed the npm packages)."""
    npm = shutil.which("npm")
    assert npm is not None
    run = subprocess.run([npm, "test"], cwd=LITE, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert re.search(r"^# fail 0$", run.stdout, re.M)
    assert int(re.search(r"^# pass (\d+)$", run.stdout, re.M).group(1)) >= 10


def test_page_watcher_times_mirror_interrupt_py() -> None:
    """The browser's watcher ticks and escalates as the Python host's does (interrupt.py owns the numbers)."""
    from lua_wasm_kernel import interrupt

    text = (LITE / "src" / "page_watcher.ts").read_text()
    values = {name: int(v) for name, v in re.findall(r"^export const ([A-Z_]+_MS) = (\d+);", text, re.M)}
    assert values["TICK_MS"] == round(interrupt.TICK_SECONDS * 1000)
    assert values["ESCALATE_AFTER_MS"] == round(interrupt.ESCALATE_AFTER_SECONDS * 1000)
