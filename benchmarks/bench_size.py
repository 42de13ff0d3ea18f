#!/usr/bin/env python
"""Module size: where lua.wasm's bytes go, per section and per origin.

    python benchmarks/bench_size.py              # build, then the breakdown as markdown
    python benchmarks/bench_size.py --top 40     # more of the largest functions

Builds the product (hatch_build.py's own `zig build-exe` command) into a
temporary folder, and the same command without `-fstrip`, whose name section
names every function (the code is the same: the section sizes are compared).
The link's inputs come from `--verbose-link`; `llvm-nm` over them says which
object (Lua's C file, our C file, a libc.a or compiler-rt member) defines each
function, and the libc member's source folder in Zig's musl/wasi-libc copy
(stdio, math, time...) names its part of libc. Zig functions carry qualified
names (`allocator.Tlsf.alloc`): ours when the first part is a src/*.zig file.
Markdown on stdout (numbers belong in docs/BENCHMARKS.md), progress on stderr.
Nothing is written to lua_wasm_kernel/.
"""
from __future__ import annotations

import argparse
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import hatch_build  # noqa: E402  (the build's own command)

LUA_SRC = Path(os.environ.get("LUA_WASM_LUA_SRC") or ROOT / "build" / "lua54")
SIZE_CEILING_BYTES = 400 * 1000
SIZE_AIM_BYTES = 250 * 1000
SECTION_NAMES = {0: "custom", 1: "type", 2: "import", 3: "function", 4: "table", 5: "memory", 6: "global",
                 7: "export", 8: "start", 9: "elem", 10: "code", 11: "data", 12: "datacount", 13: "tag"}
LUA_LIBS = {"lauxlib", "lbaselib", "lcorolib", "ldblib", "lmathlib", "lstrlib", "ltablib", "lutf8lib",
            "loadlib", "liolib", "loslib", "linit"}
# Our C files that compile fetched Lua files by #include (src/build.zon): their
# lw_* helpers are ours, the rest is Lua's (lua_* of lapi.c is core).
LUA_UNITS = {"lvm_calls": "Lua core", "lapi_libs": "Lua libraries"}
# compiler-rt's binary128 (`long double` on wasm32) and 128-bit integer helpers.
SOFT_FLOAT = re.compile(r"^__\w*(tf|ti\d)|f128|\.__\w*tf")
COMPILER_RT_MEM = {"memcpy", "memmove", "memset", "compiler_rt.fastMemset", "compiler_rt.memcpy", "compiler_rt.memmove"}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _leb(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def _name(data: bytes, i: int) -> tuple[str, int]:
    n, i = _leb(data, i)
    return data[i:i + n].decode("utf-8", "replace"), i + n


class Module:
    """The parts of a wasm binary this report needs: sections, function
    bodies, data segments, and the name section's function names."""

    def __init__(self, data: bytes) -> None:
        if data[:4] != b"\0asm":
            raise ValueError("not a wasm module")
        self.size = len(data)
        self.gzip_size = len(gzip.compress(data, 9))
        self.sections: list[tuple[str, int]] = []
        self.imported_functions = 0
        self.bodies: list[int] = []
        self.data_segments: list[bytes] = []
        self.names: dict[int, str] = {}
        i = 8
        while i < len(data):
            sid = data[i]
            size, start = _leb(data, i + 1)
            end = start + size
            label = SECTION_NAMES.get(sid, f"id {sid}")
            if sid == 0:
                custom, body = _name(data, start)
                label = f"custom `{custom}`"
                if custom == "name":
                    self._read_names(data, body, end)
            elif sid == 2:
                self._read_imports(data, start)
            elif sid == 10:
                self._read_code(data, start)
            elif sid == 11:
                self._read_data(data, start)
            self.sections.append((label, end - i))
            i = end

    def _read_imports(self, data: bytes, i: int) -> None:
        count, i = _leb(data, i)
        for _ in range(count):
            _, i = _name(data, i)
            _, i = _name(data, i)
            kind = data[i]
            i += 1
            if kind == 0:
                self.imported_functions += 1
                _, i = _leb(data, i)
            elif kind == 1:  # table: reftype, limits
                flags, i = _leb(data, i + 1)
                _, i = _leb(data, i)
                if flags & 1:
                    _, i = _leb(data, i)
            elif kind == 2:  # memory: limits
                flags, i = _leb(data, i)
                _, i = _leb(data, i)
                if flags & 1:
                    _, i = _leb(data, i)
            elif kind == 3:  # global: valtype, mutability
                i += 2
            elif kind == 4:  # tag: attribute, type index
                _, i = _leb(data, i + 1)

    def _read_code(self, data: bytes, i: int) -> None:
        count, i = _leb(data, i)
        for _ in range(count):
            size, body = _leb(data, i)
            self.bodies.append(body + size - i)
            i = body + size

    def _read_data(self, data: bytes, i: int) -> None:
        count, i = _leb(data, i)
        for _ in range(count):
            flags, i = _leb(data, i)
            if flags in (0, 2):
                if flags == 2:
                    _, i = _leb(data, i)
                while data[i] != 0x0B:  # the offset expression (i32.const n; end)
                    i += 1
                i += 1
            size, i = _leb(data, i)
            self.data_segments.append(data[i:i + size])
            i += size

    def _read_names(self, data: bytes, i: int, end: int) -> None:
        while i < end:
            sub = data[i]
            size, body = _leb(data, i + 1)
            if sub == 1:
                count, j = _leb(data, body)
                for _ in range(count):
                    index, j = _leb(data, j)
                    self.names[index], j = _name(data, j)
            i = body + size

    def functions(self) -> list[tuple[str, int]]:
        """(name, body bytes) of every defined function."""
        base = self.imported_functions
        return [(self.names.get(base + k, f"func[{base + k}]"), size) for k, size in enumerate(self.bodies)]

    def zero_data_bytes(self) -> int:
        return sum(len(s) for s in self.data_segments if not any(s))


def build(out: Path, cache: Path, strip: bool, lua_src: Path = LUA_SRC) -> list[Path]:
    """Builds lua.wasm with hatch_build.py's command; returns the link's inputs."""
    cmd = hatch_build.wasm_command(lua_src, out=out, cache_dir=cache)
    if not strip:
        cmd.remove("-fstrip")
    cmd.append("--verbose-link")
    hatch_build.write_build_options()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"build failed:\n{proc.stderr}")
    link = next((line for line in proc.stderr.splitlines() if "wasm-ld" in line), "")
    return [Path(a) for a in link.split() if a.endswith((".o", ".a"))]


def _libc_folders() -> dict[str, str]:
    """musl/wasi-libc source file stem -> its folder (stdio, math, ...) in Zig's copy."""
    import ziglang
    folders: dict[str, str] = {}
    libc = Path(ziglang.__file__).parent / "lib" / "libc"
    for top in ("wasi", "musl"):
        for path in (libc / top).rglob("*.c"):
            folders.setdefault(path.stem, path.parent.name)
    return folders


def definitions(inputs: list[Path]) -> dict[str, str]:
    """Symbol -> the object defining it ("lvm.o", "libc.a:vfprintf.o", ...)."""
    nm = shutil.which("llvm-nm")
    if nm is None:
        log("llvm-nm not found: origins only from names")
        return {}
    where: dict[str, str] = {}
    for path in inputs:
        if not path.exists():
            continue  # lua_zcu.o lives in a temporary folder of the build
        proc = subprocess.run([nm, "-A", "--defined-only", str(path)], capture_output=True, text=True)
        for line in proc.stdout.splitlines():
            # "path:member.o: 0000 T name" or "path.o: 0000 T name"
            head, _, rest = line.rpartition(": ")
            parts = rest.split()
            if len(parts) != 3 or parts[1].lower() not in "tw":
                continue
            head = head.replace(str(path), path.name)
            where.setdefault(parts[2], head)
    return where


def origin(name: str, where: dict[str, str], folders: dict[str, str], ours_zig: set[str]) -> str:
    obj = where.get(name)
    if obj is None and name.startswith("__wasm_"):
        return "made by the linker"
    if name.startswith("c."):
        return "libc written in Zig (lib/c/*.zig)"
    if obj is None and "." in name and not name.startswith("compiler_rt."):
        first = name.split(".", 1)[0]
        return "our Zig (src/*.zig)" if first in ours_zig else "Zig standard library"
    if obj is None:
        if SOFT_FLOAT.search(name):
            return "compiler-rt soft-float (long double, 128-bit ints)"
        return "libc written in Zig (lib/c/*.zig)"
    if obj.startswith("libcompiler_rt.a") or "compiler_rt" in obj or name.startswith("compiler_rt."):
        if SOFT_FLOAT.search(name):
            return "compiler-rt soft-float (long double, 128-bit ints)"
        if name in COMPILER_RT_MEM:
            return "compiler-rt memcpy, memmove, memset"
        return "compiler-rt libm (Zig's sin, cos, tan, exp, log, fmod...)"
    if obj.startswith("libc.a:"):
        member = Path(obj.split(":", 1)[1]).stem
        folder = folders.get(member, "?")
        if folder == "stdio":
            return "libc stdio (snprintf, vfprintf and its long double fmt_fp)"
        if folder == "math":
            return "libc math (libm)"
        if folder == "internal":
            return "libc internal (strtod's __floatscan, in long double)"
        return f"libc {folder}"
    if obj.startswith("crt1"):
        return "libc crt1"
    stem = Path(obj).stem
    if stem in LUA_UNITS and not name.startswith("lw_"):
        return "Lua core" if name.startswith("lua_") else LUA_UNITS[stem]
    if (ROOT / "src" / f"{stem}.c").exists():
        return "our C (src/*.c)"
    if stem in LUA_LIBS:
        return "Lua libraries"
    if (LUA_SRC / f"{stem}.c").exists():
        return "Lua core"
    return f"other ({obj})"


# What the long double question turns on: who calls these (bench_size --callers).
LONG_DOUBLE_ROOTS = ("__multf3", "__addtf3", "__subtf3", "__divtf3", "__extenddftf2", "__trunctfdf2",
                     "scalbnl", "compiler_rt.fmod.fmodl", "c.math.frexpl", "pop_arg", "printf_core", "vfprintf",
                     "vsnprintf", "snprintf", "lw_fprintf", "__floatscan", "strtod", "strftime")


def callers(named_wasm: Path, names: dict[int, str]) -> dict[str, set[str]]:
    """Callee name -> names of the functions with a direct `call` to it
    (from llvm-objdump's disassembly; empty without llvm-objdump)."""
    objdump = shutil.which("llvm-objdump")
    if objdump is None:
        return {}
    text = subprocess.run([objdump, "-d", str(named_wasm)], capture_output=True, text=True).stdout
    found: dict[str, set[str]] = defaultdict(set)
    current = None
    for line in text.splitlines():
        head = re.match(r"^[0-9a-f]+ <(.+)>:", line)
        if head:
            current = head.group(1)
            continue
        call = re.search(r"\tcall\t(\d+)", line)
        if call and current:
            found[names.get(int(call.group(1)), call.group(1))].add(current)
    return found


def report(stripped: Module, named: Module, where: dict[str, str], top: int,
           calls: dict[str, set[str]] | None = None) -> str:
    folders = _libc_folders()
    ours_zig = {p.stem for p in (ROOT / "src").glob("*.zig")}
    out: list[str] = ["## Build: module size", "",
                      "`python benchmarks/bench_size.py`: the product build (hatch_build.py's command, stripped: "
                      "no name or debug sections) per section, and its code per origin, per C file and per "
                      "function, from the same build without `-fstrip` (whose name section names every function; "
                      "the code is the same). Origins: the object that defines each function in the link "
                      "(`--verbose-link`, `llvm-nm`), libc's part from its source folder in Zig's musl/wasi-libc "
                      "copy, Zig functions by their qualified names. Function sizes are bodies in the code section.",
                      ""]
    raw = stripped.size
    verdict = "under the 400 KB ceiling" if raw < SIZE_CEILING_BYTES else "**over the 400 KB ceiling**"
    out.append(f"lua.wasm as built: **{raw:,} bytes** ({verdict}; aim {SIZE_AIM_BYTES // 1000} KB), "
               f"{stripped.gzip_size:,} bytes under gzip -9.\n")
    out.append("| section | bytes | share |")
    out.append("|---|---:|---:|")
    for label, size in stripped.sections:
        out.append(f"| {label} | {size:,} | {100 * size / raw:.1f} % |")
    zeros = stripped.zero_data_bytes()
    out.append(f"\n- Data: {len(stripped.data_segments)} segments, {sum(map(len, stripped.data_segments)):,} bytes, "
               f"of which {zeros:,} in all-zero segments.")
    if abs(sum(stripped.bodies) - sum(named.bodies)) > len(named.bodies):
        out.append("- The unstripped build's code differs from the product's: the per-function table is "
                   f"approximate (code {sum(named.bodies):,} vs {sum(stripped.bodies):,} bytes).")
    groups: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    rows: list[tuple[int, str, str]] = []
    for name, size in named.functions():
        group = origin(name, where, folders, ours_zig)
        groups[group][0] += size
        groups[group][1] += 1
        rows.append((size, name, group))
    code = sum(named.bodies)
    out.append(f"\nCode by origin ({len(rows)} functions, {code:,} bytes of function bodies):\n")
    out.append("| origin | bytes | share of code | functions |")
    out.append("|---|---:|---:|---:|")
    for group, (size, count) in sorted(groups.items(), key=lambda kv: -kv[1][0]):
        out.append(f"| {group} | {size:,} | {100 * size / code:.1f} % | {count} |")
    per_file: dict[str, int] = defaultdict(int)
    for size, name, group in rows:
        obj = where.get(name)
        if obj and not obj.startswith(("libc", "crt1")):
            per_file[Path(obj).stem] += size
    out.append("\nCode per C file (Lua's and ours):\n")
    out.append("| file | bytes |")
    out.append("|---|---:|")
    for stem, size in sorted(per_file.items(), key=lambda kv: -kv[1]):
        out.append(f"| {stem}.c | {size:,} |")
    out.append(f"\nThe {top} largest functions:\n")
    out.append("| function | bytes | origin |")
    out.append("|---|---:|---|")
    for size, name, group in sorted(rows, reverse=True)[:top]:
        out.append(f"| `{name}` | {size:,} | {group} |")
    if calls:
        out.append("\nWho calls libc's formatting and scanning and the long double helpers (direct calls):\n")
        out.append("| function | bytes | called by |")
        out.append("|---|---:|---|")
        sizes = dict(named.functions())
        for name in LONG_DOUBLE_ROOTS:
            if name in sizes:
                out.append(f"| `{name}` | {sizes[name]:,} | {', '.join(f'`{c}`' for c in sorted(calls.get(name, ())))} |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--top", type=int, default=25, help="how many of the largest functions to list")
    ap.add_argument("--keep", type=Path, help="copy the two builds (lua.wasm, lua-names.wasm) into this folder")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        log("building the product (stripped)...")
        build(t / "lua.wasm", t / "cache", strip=True)
        log("building it unstripped (names)...")
        inputs = build(t / "lua-names.wasm", t / "cache", strip=False)
        stripped = Module((t / "lua.wasm").read_bytes())
        named = Module((t / "lua-names.wasm").read_bytes())
        where = definitions(inputs)
        calls = callers(t / "lua-names.wasm", named.names)
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            for f in ("lua.wasm", "lua-names.wasm"):
                shutil.copy(t / f, args.keep / f)
    print(report(stripped, named, where, args.top, calls))
    return 0


if __name__ == "__main__":
    sys.exit(main())
