"""`python -m lua_wasm_kernel install`: the kernelspec, its logos, this interpreter."""
from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("size", [32, 64])
def test_logos_are_pngs_of_their_size(size: int) -> None:
    data = (ROOT / "kernelspec" / f"logo-{size}x{size}.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    assert struct.unpack(">II", data[16:24]) == (size, size)


def test_svg_logo() -> None:
    svg = (ROOT / "kernelspec" / "logo-svg.svg").read_text()
    assert svg.startswith("<svg") and 'viewBox="0 0 64 64"' in svg


def test_install_into_a_prefix(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "lua_wasm_kernel", "install", "--prefix", str(tmp_path)],
        check=True, capture_output=True, text=True,
    ).stdout
    dest = tmp_path / "share" / "jupyter" / "kernels" / "lua-wasm"
    assert str(dest) in out
    spec = json.loads((dest / "kernel.json").read_text())
    assert spec["argv"] == [sys.executable, "-m", "lua_wasm_kernel", "-f", "{connection_file}"]
    assert spec["display_name"] == "Lua 5.4 (WASM)"
    assert spec["language"] == "lua" and spec["interrupt_mode"] == "message"
    assert {p.name for p in dest.iterdir()} >= {"kernel.json", "logo-32x32.png", "logo-64x64.png", "logo-svg.svg"}
