"""A Jupyter environment of its own for tests that start the real kernel.

`use_test_kernelspec()` installs the `lua-wasm` kernelspec with
`python -m lua_wasm_kernel install --prefix <tmp>` (so it runs this checkout
with this interpreter) and points JUPYTER_PATH at it, with fresh data, config,
runtime and IPython directories: the user's history and config stay untouched.
Once per test process.
"""
from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

KERNEL_NAME = "lua-wasm"
_root: Path | None = None


def use_test_kernelspec() -> Path:
    """The temporary root (its `share/jupyter/kernels/lua-wasm` holds the spec)."""
    global _root
    if _root is None:
        root = Path(tempfile.mkdtemp(prefix="lua-wasm-tests-"))
        atexit.register(shutil.rmtree, root, True)
        subprocess.run(
            [sys.executable, "-m", "lua_wasm_kernel", "install", "--prefix", str(root)],
            check=True,
            capture_output=True,
        )
        os.environ["JUPYTER_PATH"] = os.pathsep.join(
            p for p in (str(root / "share" / "jupyter"), os.environ.get("JUPYTER_PATH")) if p
        )
        os.environ["JUPYTER_DATA_DIR"] = str(root / "data")
        os.environ["JUPYTER_CONFIG_DIR"] = str(root / "config")
        os.environ["JUPYTER_RUNTIME_DIR"] = str(root / "runtime")
        os.environ["IPYTHONDIR"] = str(root / "ipython")
        _root = root
    return _root


def spec_dir(name: str = KERNEL_NAME) -> Path:
    return use_test_kernelspec() / "share" / "jupyter" / "kernels" / name


def add_variant(name: str, env: dict[str, str]) -> str:
    """Another kernelspec, the same kernel with `env` in its kernel.json."""
    dest = spec_dir(name)
    if not dest.exists():
        shutil.copytree(spec_dir(), dest)
        spec = json.loads((dest / "kernel.json").read_text())
        spec["env"] = env
        (dest / "kernel.json").write_text(json.dumps(spec, indent=2))
    return name


def history_file() -> Path:
    """Where the kernel keeps history by default, in the test data directory."""
    return use_test_kernelspec() / "data" / "lua-wasm" / "history.sqlite"
