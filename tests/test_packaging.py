"""The wheel: it carries lua.wasm, the Lua helpers and the kernelspec, and
installs and runs where no Zig exists."""
from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-w", str(out), "-q"],
        check=True, timeout=1200,
    )
    (built,) = out.glob("lua_wasm_kernel-*.whl")
    return built


def test_wheel_contents(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "lua_wasm_kernel/lua.wasm" in names
    assert {"lua_wasm_kernel/lua/display.lua", "lua_wasm_kernel/lua/introspect.lua"} <= names
    assert "lua_wasm_kernel/stdlib_docs.json" in names  # inspect's docs, shared with the browser kernel
    spec = "lua_wasm_kernel-0.1.0.data/data/share/jupyter/kernels/lua-wasm/"
    assert {spec + f for f in ("kernel.json", "logo-32x32.png", "logo-64x64.png", "logo-svg.svg")} <= names
    assert wheel.name.endswith("-py3-none-any.whl")


def test_wheel_installs_and_runs_without_zig(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", str(wheel)], check=True, timeout=900)
    zig = subprocess.run([str(py), "-c", "import ziglang"], capture_output=True)
    assert zig.returncode != 0, "the wheel must not need ziglang"
    code = "from lua_wasm_kernel.vm import LuaVM; print(LuaVM().eval('6 * 7').display[0])"
    out = subprocess.run([str(py), "-c", code], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.stdout.strip() == "42", out.stderr
    specs = subprocess.run(
        [str(env_dir / "bin" / "jupyter"), "kernelspec", "list", "--json"],
        capture_output=True, text=True, timeout=120,
    )
    assert '"lua-wasm"' in specs.stdout
