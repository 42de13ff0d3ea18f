"""The sandbox's promise (docs/RELIABILITY.md, "Threat model"): a cell can do
what docs/LUA_API.md says, and nothing more, whatever it crafts.

Lua code can reach every function the engine has (the registry, upvalues of
closures), so these tests call the host functions directly, with hostile
arguments, and check what the host does: it reads nothing the API does not
allow, refuses binary chunks, and checks every pointer the VM hands it.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lua_wasm_kernel import abi
from lua_wasm_kernel.display import Display
from lua_wasm_kernel.hostcall import HostCallError
from lua_wasm_kernel.modules import ModuleFinder
from lua_wasm_kernel.snapshot import Snapshots
from lua_wasm_kernel.stdin import InputReader
from lua_wasm_kernel.vm import LuaVM, MemoryAccessError, WasmModuleError

ROOT = Path(__file__).resolve().parent.parent
SECRET = "TOP-SECRET-KEY-MATERIAL"

# Two ways a cell reaches the raw host_call: the registry, and the upvalue of
# require's searcher (a closure of lua/require.lua).
FROM_REGISTRY = 'local host_call = debug.getregistry()["lua_wasm.prelude"].host_call\n'
FROM_UPVALUE = """
local searcher = package.searchers[2]
pcall(searcher, "no.such.module")  -- loads lua/require.lua; searchers[2] stays a stub
local function find(f, seen)
  seen = seen or {}
  if seen[f] then return nil end
  seen[f] = true
  for i = 1, 255 do
    local name, v = debug.getupvalue(f, i)
    if name == nil then break end
    if name == "host_call" then return v end
    if type(v) == "function" then local h = find(v, seen) if h then return h end end
    if type(v) == "table" then
      for _, w in pairs(v) do
        if type(w) == "function" then local h = find(w, seen) if h then return h end end
      end
    end
  end
end
local host_call
for _, m in pairs(debug.getregistry()["lua_wasm.modules"]) do
  for _, f in pairs(m) do host_call = host_call or (type(f) == "function" and find(f)) end
end
assert(host_call, "host_call not found through upvalues")
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A notebook's folder full of things a cell must not read."""
    root = tmp_path / "notebook"
    root.mkdir()
    (root / ".env").write_text(f"API_KEY={SECRET}\n")
    (root / ".ssh").mkdir()
    (root / ".ssh" / "id_ed25519").write_text(SECRET)
    (root / ".ssh" / "evil.lua").write_text(f"return '{SECRET}'")
    (root / ".hidden.lua").write_text(f"return '{SECRET}'")
    (root / "notes.txt").write_text(SECRET)
    (root / "data").mkdir()
    (root / "data" / "config.json").write_text(SECRET)
    (root / "link.lua").symlink_to(root / ".env")
    (root / "link2.lua").symlink_to(root / ".ssh" / "evil.lua")
    (root / "ok.lua").write_text("return 'visible module'")
    (root / "lib").mkdir()
    (root / "lib" / "util.lua").write_text("return 'util'")
    (tmp_path / "outside.lua").write_text(f"return '{SECRET}'")
    (root / "out.lua").symlink_to(tmp_path / "outside.lua")
    return root


@pytest.fixture
def sandbox(runtime, folder: Path, tmp_path: Path) -> LuaVM:
    """A VM with every host function the kernel registers."""
    vm = LuaVM(runtime=runtime)
    ModuleFinder(folder).register(vm)
    Display(lambda *_: None).register(vm)
    InputReader(kernel=None).register(vm)  # input not allowed: no execute_request
    Snapshots(vm, tmp_path / "store", warn=lambda _: None).register(vm)
    return vm


HOSTILE_NAMES = [
    ".env", "./.env", ".ssh/id_ed25519", "./.ssh/evil.lua", ".ssh/evil.lua", ".hidden.lua",
    "notes.txt", "data/config.json", "link.lua", "./link2.lua", "out.lua", "../outside.lua",
    "lib/../.env", "lib/../../outside.lua", "/etc/passwd", "~/.bashrc", "ok.lua\0.env",
    "lib/.", "lib/", ".", "..", ".lua", "./.lua",
]


@pytest.mark.parametrize("prefix", [FROM_REGISTRY, FROM_UPVALUE], ids=["registry", "upvalue"])
def test_host_call_reads_no_hidden_or_foreign_file(sandbox: LuaVM, prefix: str) -> None:
    names = "{" + ", ".join(_lua(n) for n in HOSTILE_NAMES) + "}"
    r = sandbox.eval(prefix + f"""
local out = {{}}
for _, name in ipairs({names}) do
  local ok, data = host_call("read_module", name)
  out[#out + 1] = tostring(ok) .. " " .. tostring(data)
  local ok2, found = host_call("search_module", name, "?")
  out[#out + 1] = tostring(ok2) .. " " .. (type(found) == "table" and table.concat(found, ",") or tostring(found))
  local ok3, found3 = host_call("search_module", name:gsub("%.lua$", ""), "./?.lua;?.lua;?", "", "")
  out[#out + 1] = tostring(ok3) .. " " .. (type(found3) == "table" and table.concat(found3, ",") or tostring(found3))
end
return table.concat(out, "\\n")
""")
    assert r.ok, r.error
    text = r.values[0]
    assert SECRET not in text
    # read_module refused every name, and search_module found none of them.
    for line in text.splitlines()[0::3]:
        assert line.startswith("false "), line
    for line in text.splitlines()[1::3] + text.splitlines()[2::3]:
        assert line.startswith("true no file"), line


def test_require_still_reads_visible_lua_files(sandbox: LuaVM) -> None:
    r = sandbox.eval("return require 'ok', require 'lib.util'")
    assert r.ok and r.values[:2] == ["visible module", "util"], r.error
    for name in ("link", "link2", "out", ".hidden", "notes"):
        r = sandbox.eval(f"return require {_lua(name)}")
        assert not r.ok and "not found" in r.error and SECRET not in r.error, (name, r.error)


def test_searchpath_refuses_a_name_and_path_that_multiply(sandbox: LuaVM, folder: Path) -> None:
    """A long name times a path of "?"s (or a long `rep`) would build a string
    of their product's size in the host: 30,000 x 30,000 took the kernel to
    2.6 GiB. It is measured first and refused."""
    for code in (
        'return package.searchpath(string.rep("n", 30000), string.rep("?", 30000))',
        'return package.searchpath(string.rep(".", 30000), "?", ".", string.rep("/", 30000))',
    ):
        r = sandbox.eval(code)
        assert r.ok and r.values[0] is None, r.error
        assert f"exceed {abi.SEARCH_NAMES_SIZE_MAX_CHARS} characters" in r.values[1]
    with pytest.raises(HostCallError, match="exceed"):
        ModuleFinder(folder).search("n" * 2000, "?" * 2000)
    # Right at the limit it still searches.
    tried = ModuleFinder(folder).search("n" * 1000, ";".join(["?"] * 1000))
    assert isinstance(tried, list) and len(tried) == 1000


def test_every_host_function_survives_hostile_arguments(sandbox: LuaVM) -> None:
    """Each function the host registers, called directly with arguments no
    documented caller passes: a Lua error or a harmless value, never a
    secret, a trap or a Python exception out of the VM."""
    names = sorted(sandbox.host_calls.functions)
    assert set(names) == {
        "lua_wasm.module", "lua_wasm.ext.open", "lua_wasm.ext.tables", "lua_wasm.ext.drop",
        "search_module", "read_module", "display", "clear_output", "page", "input", "input_epoch",
        "lua_wasm.snapshot", "lua_wasm.restore", "lua_wasm.snapshots", "describe",
    }
    args = [
        "", "nil", "1, 2, 3", "'../../.env'", "'.env', '?'", "'/etc/passwd'", "{}", "{1, {2, {3}}}",
        "string.rep('x', 100000)", "math.huge, -1, 0/0", "print, coroutine.create(print)",
        "'png', string.rep('\\0', 10)", "'data', {['text/html'] = '<b>'}", "'../secret'", "'x', {id = {}}",
    ]
    for name in names:
        calls = ",\n".join(f"{{{a}}}" for a in args)
        r = sandbox.eval(FROM_REGISTRY + f"""
local results = {{}}
for _, c in ipairs({{{calls}}}) do
  local ok, a, b = pcall(host_call, {_lua(name)}, table.unpack(c, 1, 8))
  results[#results + 1] = tostring(ok) .. tostring(a) .. tostring(b)
end
return table.concat(results, "\\n"), #results
""")
        assert r.ok, (name, r.error)
        assert r.values[1] == len(args)
        assert SECRET not in r.values[0], name
    assert sandbox.eval("return 1 + 1").values == [2]  # the VM is whole


def test_binary_chunks_are_refused_everywhere(sandbox: LuaVM, folder: Path) -> None:
    r = sandbox.eval("""
local f = function () return 42 end
local dumped = string.dump(f)
local results = {}
for _, mode in ipairs({"b", "bt", "t"}) do
  local chunk, msg = load(dumped, "=dump", mode)
  results[#results + 1] = tostring(chunk) .. " " .. tostring(msg)
end
local parts = {dumped:sub(1, 1), dumped:sub(2)}
local chunk, msg = load(function () return table.remove(parts, 1) end)
results[#results + 1] = tostring(chunk) .. " " .. tostring(msg)
return table.concat(results, "\\n")
""")
    assert r.ok, r.error
    lines = r.values[0].splitlines()
    assert all(line.startswith("nil attempt to load a binary chunk") for line in lines), lines
    assert "not allowed in the lua-wasm sandbox" in lines[0] and "(mode is 't')" in lines[2]
    # A cell that is bytecode, and a module file that is bytecode.
    dumped = sandbox.eval("return string.dump(function () return 1 end)").values[0]
    raw = dumped if isinstance(dumped, bytes) else dumped.encode("utf-8", "surrogateescape")
    r = sandbox.eval(raw)
    assert not r.ok and "attempt to load a binary chunk" in r.error
    (folder / "bytecode.lua").write_bytes(raw)
    r = sandbox.eval("return require 'bytecode'")
    assert not r.ok and "attempt to load a binary chunk" in r.error


@pytest.mark.parametrize("ptr, length", [
    (-1, 4), (-8, 16), (2**32 - 8, 16), (2**31, 4), (0, 2**32 - 1), (-(2**40), 4), ("limit-8", 16),
])
def test_memory_access_outside_linear_memory_is_refused(vm: LuaVM, ptr, length) -> None:
    if ptr == "limit-8":
        ptr = vm.memory_bytes - 8
    with pytest.raises(MemoryAccessError):
        vm.read(ptr, length)
    if length <= 16:
        with pytest.raises(MemoryAccessError):
            vm.write(ptr, b"\xff" * length)
    assert vm.eval("return 'alive'").values == ["alive"]


def test_write_to_address_zero_is_refused(vm: LuaVM) -> None:
    with pytest.raises(MemoryAccessError):
        vm.write(0, b"x")


def test_memory_checks_hold_under_python_O() -> None:
    """`assert` is gone under -O: vm.read(limit - 8, 16) segfaulted there."""
    code = (
        "from lua_wasm_kernel.vm import LuaVM, MemoryAccessError\n"
        "vm = LuaVM()\n"
        "for ptr, n in ((vm.memory_bytes - 8, 16), (-4096, 8), (2**32 - 4, 8)):\n"
        "    try:\n"
        "        vm.read(ptr, n)\n"
        "    except MemoryAccessError:\n"
        "        pass\n"
        "    else:\n"
        "        raise SystemExit('read outside memory')\n"
        "    try:\n"
        "        vm.write(ptr, b'x' * n)\n"
        "    except MemoryAccessError:\n"
        "        pass\n"
        "    else:\n"
        "        raise SystemExit('wrote outside memory')\n"
        "print('refused')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-O", "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "refused", proc.stderr[-2000:]


def test_an_inconsistent_output_ring_is_dropped_without_reading_outside_it(vm: LuaVM) -> None:
    """The ring's words come from the VM (output_ring.py): more pending bytes
    than the ring holds, or an unknown stream, are dropped, never read."""
    import struct

    ring = vm.interrupt_layout["output_ring_addr"]
    out: list[str] = []
    vm.watcher.output.begin(lambda _stream, text: out.append(text))
    for written, read, stream in ((2**32 - 1, 0, 1), (2**31, 7, 1), (5, 0, 7)):
        vm.write(ring, struct.pack("<III", written, read, stream))
        vm.watcher.output.drain()
    vm.watcher.output.finish()
    assert out == []
    r = vm.eval("print('still here') return 1 + 1", on_output=lambda _s, t: out.append(t))
    assert r.values == [2] and out == ["still here\n"]


@pytest.mark.parametrize("field, value", [
    ("signals_addr", 0), ("signals_addr", 2**32 - 4), ("current_thread_addr", 3),
    ("output_ring_addr", 2**31), ("off_ci", 4096), ("off_ci_callstatus", 33), ("hook_fn", 0),
])
def test_an_implausible_interrupt_layout_is_refused(vm: LuaVM, field: str, value: int) -> None:
    layout = dict(vm.interrupt_layout)
    assert vm._check_layout(dict(layout)) == layout
    layout[field] = value
    with pytest.raises(WasmModuleError, match="interrupt layout"):
        vm._check_layout(layout)


def _lua(text: str) -> str:
    """A Lua string literal for `text` (decimal escapes for anything unusual)."""
    return '"' + "".join(c if c.isalnum() or c in "./_~ -" else f"\\{ord(c):03d}" for c in text) + '"'


def test_the_engines_eval_cannot_be_called_from_lua(sandbox: LuaVM) -> None:
    """The C function at the bottom of every cell's stack (eval.zig's
    protectedEval) is reachable through debug.getinfo; called from Lua with
    a forged or even the genuine argument, it refuses, and the VM is whole."""
    sandbox.eval("kept = 41")
    r = sandbox.eval("""
local level, bottom = 1, nil
while debug.getinfo(level, "f") do bottom = debug.getinfo(level, "f").func; level = level + 1 end
local genuine = select(2, debug.getlocal(level - 1, 1))
local results = {}
for _, arg in ipairs({io.stdout, genuine or false, "x"}) do
  results[#results + 1] = tostring(select(2, pcall(bottom, arg)))
end
return table.concat(results, "\\n")
""")
    assert r.ok, r.error
    lines = r.values[0].splitlines()
    assert len(lines) == 3 and all("cannot be called from Lua" in line for line in lines), lines
    assert sandbox.eval("return kept + 1").values == [42]
