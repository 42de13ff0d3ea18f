"""Installs the `lua-wasm` kernelspec: `python -m lua_wasm_kernel install [--user|--sys-prefix|--prefix P]`."""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from jupyter_client.kernelspec import KernelSpecManager

KERNEL_NAME = "lua-wasm"


def spec_dir() -> Path:
    """The kernelspec shipped with the package (source tree or wheel data)."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "kernelspec", Path(sys.prefix) / "share/jupyter/kernels" / KERNEL_NAME):
        if (candidate / "kernel.json").exists():
            return candidate
    raise FileNotFoundError("kernelspec/kernel.json not found: reinstall lua-wasm-kernel")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m lua_wasm_kernel install")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--user", action="store_true", help="install for the current user")
    where.add_argument("--sys-prefix", action="store_true", help="install into sys.prefix (virtualenv, conda)")
    where.add_argument("--prefix", help="install under this prefix")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / KERNEL_NAME
        shutil.copytree(spec_dir(), staged)
        spec = json.loads((staged / "kernel.json").read_text())
        spec["argv"][0] = sys.executable  # this interpreter, whatever PATH says later
        (staged / "kernel.json").write_text(json.dumps(spec, indent=2) + "\n")
        prefix = sys.prefix if args.sys_prefix else args.prefix
        dest = KernelSpecManager().install_kernel_spec(
            str(staged), KERNEL_NAME, user=args.user, prefix=prefix
        )
    print(f"Installed kernelspec {KERNEL_NAME} in {dest}")
    return 0
