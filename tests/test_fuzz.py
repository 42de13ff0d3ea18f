"""Fuzzing: both value decoders and the Lua compiler/VM get random and mutated input.

- Python's decoder (lua_wasm_kernel/serializer.py): random bytes and mutated
  encodings of real values either decode or raise FormatError; nothing else.
- The engine's decoder (src/serializer.zig), reached the ways untrusted bytes
  reach it: external-table values and keys (lw_ext_get / lw_ext_next, the
  bytes of a table file on disk) and host-call replies (lw_host_take). The
  cell that reads them gets a value or a Lua error; the VM never traps and a
  global it never touched survives.
- Mutated Lua: windows of the official test files (Lua 5.4.8's testes/,
  fetched by hatch_build.py) mutated byte- and token-wise, run as cells in
  one VM and through one real kernel. The VM never dies (a trap rolls back,
  and says so), every cell gets its reply, and an untouched global
  survives; a cell that runs too long is interrupted.

Case counts: the default run tries DEFAULT_EXAMPLES per test (a few seconds
each); the `slow` variants try LUA_WASM_FUZZ_EXAMPLES (default
FULL_EXAMPLES_DEFAULT). The full run, as documented in docs/RELIABILITY.md:

    LUA_WASM_FUZZ_EXAMPLES=20000 python -m pytest tests/test_fuzz.py -m slow
"""
from __future__ import annotations

import os
import random
import re
import struct
import tempfile
from contextlib import contextmanager
from pathlib import Path
from queue import Empty
from types import SimpleNamespace
from typing import Any, Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kernel_client import drain, kernel, run
from lua_wasm_kernel import hostcall, serializer
from lua_wasm_kernel.abi import Status, Tag
from lua_wasm_kernel.serializer import FormatError, decode, encode
from lua_wasm_kernel.vm import LuaVM, Runtime

DEFAULT_EXAMPLES = {"decoder": 400, "engine": 200, "lua": 300}
FULL_EXAMPLES_DEFAULT = 5000
FULL_EXAMPLES = int(os.environ.get("LUA_WASM_FUZZ_EXAMPLES", FULL_EXAMPLES_DEFAULT))
# A mutated test file that loops is interrupted after this long (a wait, not an assertion).
LUA_CASE_SECONDS = 1.0
SENTINEL = "__fuzz_sentinel_untouched"
SENTINEL_VALUE = "still here"
# Nesting far beyond any depth limit the format may have (issue 7, item 9: ~9,000 trapped).
DEEP_NESTING = 100_000


def _settings(count: int) -> settings:
    return settings(
        max_examples=count,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                               HealthCheck.data_too_large],
        database=None,
    )


def _both(body: Callable[..., None], strategy: Any, kind: str) -> tuple[Callable, Callable]:
    """The default-run test and the slow full-size one, same body."""
    quick = _settings(DEFAULT_EXAMPLES[kind])(given(strategy)(body))
    full = pytest.mark.slow(_settings(FULL_EXAMPLES)(given(strategy)(body)))
    return quick, full


# -- inputs: real encodings and their mutations

scalars = (
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats() | st.text(max_size=30) | st.binary(max_size=30)
)
keys = st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.text(max_size=10) | st.booleans()
values = st.recursive(
    scalars, lambda inner: st.dictionaries(keys, inner.filter(lambda v: v is not None), max_size=5), max_leaves=20
)
_BIG_U32 = [0xFFFF_FFFF, 0x7FFF_FFFF, 0x8000_0000, 0x0100_0000, 65536, 0]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid encoding with a few mutations: flips, cuts, splices, huge counts, stray tags."""
    data = bytearray(encode(draw(values)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "count", "tag", "dup"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "cut":
            del data[at:]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "count":
            data[at:at + 4] = struct.pack("<I", draw(st.sampled_from(_BIG_U32)))
        elif op == "tag":
            data[at:at] = bytes([draw(st.sampled_from([int(t) for t in Tag] + [0x09, 0x7F, 0xFF]))])
        elif op == "dup" and data:
            data[at:at] = data[at:]
    return bytes(data)


hostile_bytes = st.binary(max_size=300) | mutated()


def _deep(depth: int) -> bytes:
    """A table nested `depth` deep: {[1] = {[1] = ... nil}}."""
    one_pair = bytes([Tag.TABLE]) + struct.pack("<I", 1) + bytes([Tag.INTEGER]) + struct.pack("<q", 1)
    return one_pair * depth + bytes([Tag.INTEGER]) + struct.pack("<q", 0)


# -- Python's decoder

def _python_decoder_body(data: bytes) -> None:
    try:
        decode(data)
    except FormatError:
        pass  # the clear error; anything else (IndexError, RecursionError, MemoryError...) fails the test


test_python_decoder_random_and_mutated, test_python_decoder_random_and_mutated_full = _both(
    _python_decoder_body, hostile_bytes, "decoder"
)


def test_python_decoder_refuses_deep_nesting_with_a_format_error() -> None:
    """Depends on issue 7 item 9 (one depth limit for every decoder): today a RecursionError."""
    with pytest.raises(FormatError):
        decode(_deep(DEEP_NESTING))


def test_python_decoder_refuses_huge_counts_without_allocating() -> None:
    """A string or table count far beyond the data is refused before anything is built."""
    for data in (bytes([Tag.STRING]) + struct.pack("<I", 0xFFFF_FFFF),
                 bytes([Tag.TABLE]) + struct.pack("<I", 0xFFFF_FFFF)):
        with pytest.raises(FormatError):
            decode(data)


# -- the engine's decoder

@pytest.fixture(scope="module")
def fuzz_vm() -> LuaVM:
    """One VM for every case: what one case does must not break the next."""
    vm = LuaVM(runtime=Runtime())
    _plant_sentinel(vm)
    return vm


def _plant_sentinel(vm: LuaVM) -> None:
    assert vm.eval(f"{SENTINEL} = {SENTINEL_VALUE!r}").ok


def _check_alive(vm: LuaVM, what: str) -> None:
    """The VM answers and the global no case touched is still there."""
    result = vm.eval(f"return {SENTINEL}")
    assert result.ok, f"after {what}: {result.error}"
    assert result.values == [SENTINEL_VALUE], f"after {what}: the untouched global is gone ({result.values})"


READ_EXT = """
local t = ext.table("fuzz")
local ok, err = pcall(function()
  local n = 0
  local _ = t[1]
  for k, v in pairs(t) do n = n + 1 end
  return #t + n
end)
return ok
"""


def _engine_ext_body(vm: LuaVM, value: bytes, key: bytes) -> None:
    vm.ext.open("fuzz")
    table = vm.ext.tables["fuzz"]
    # As a table file on disk would give them: any bytes at all (the loader's checks aside).
    table.items = {serializer.encode(1): value or b"\x00", key or b"\x00": encode("v")}
    table.inserts += 1
    table.border = 0
    result = vm.eval(READ_EXT)
    assert result.status != Status.TRAPPED, f"the VM trapped decoding {value!r} / {key!r}: {result.error}"
    assert result.ok, f"a cell with pcall failed decoding {value!r} / {key!r}: {result.error}"
    _check_alive(vm, f"value {value!r}, key {key!r}")


@_settings(DEFAULT_EXAMPLES["engine"])
@given(value=hostile_bytes, key=hostile_bytes)
def test_engine_decoder_through_ext_tables(fuzz_vm: LuaVM, value: bytes, key: bytes) -> None:
    """Depends on issue 7 items 3 and 9 where the bytes nest deep or the import misbehaves."""
    _engine_ext_body(fuzz_vm, value, key)


@pytest.mark.slow
@_settings(FULL_EXAMPLES)
@given(value=hostile_bytes, key=hostile_bytes)
def test_engine_decoder_through_ext_tables_full(fuzz_vm: LuaVM, value: bytes, key: bytes) -> None:
    _engine_ext_body(fuzz_vm, value, key)


class _Raw(bytes):
    """A host function's reply that goes to the VM as it is, unencoded."""


@contextmanager
def _raw_replies() -> Iterator[None]:
    real = hostcall.serializer
    shim = SimpleNamespace(**{n: getattr(real, n) for n in dir(real) if not n.startswith("__")})
    shim.encode = lambda v: bytes(v) if isinstance(v, _Raw) else real.encode(v)
    hostcall.serializer = shim  # type: ignore[assignment]
    try:
        yield
    finally:
        hostcall.serializer = real


def _engine_reply_body(vm: LuaVM, reply: bytes) -> None:
    original = vm.host_calls.functions["lua_wasm.ext.tables"]
    vm.register_host_function("lua_wasm.ext.tables", lambda: _Raw(reply))
    try:
        with _raw_replies():
            result = vm.eval("local ok = pcall(ext.tables) return ok")
    finally:
        vm.register_host_function("lua_wasm.ext.tables", original)
    assert result.status != Status.TRAPPED, f"the VM trapped decoding the reply {reply!r}: {result.error}"
    assert result.ok, f"a cell with pcall failed decoding the reply {reply!r}: {result.error}"
    _check_alive(vm, f"reply {reply!r}")


@_settings(DEFAULT_EXAMPLES["engine"])
@given(reply=hostile_bytes)
def test_engine_decoder_through_host_call_replies(reply: bytes) -> None:
    _engine_reply_body(_shared_vm(), reply)


@pytest.mark.slow
@_settings(FULL_EXAMPLES)
@given(reply=hostile_bytes)
def test_engine_decoder_through_host_call_replies_full(reply: bytes) -> None:
    _engine_reply_body(_shared_vm(), reply)


_vm_holder: list[LuaVM] = []


def _shared_vm() -> LuaVM:
    if not _vm_holder:
        vm = LuaVM(runtime=Runtime())
        _plant_sentinel(vm)
        _vm_holder.append(vm)
    return _vm_holder[0]


def test_engine_decoder_refuses_deep_nesting_from_an_ext_table() -> None:
    """Issue 7 item 9: the Zig decoder recursed until 'call stack exhausted'.
    A VM of its own: the value's 0.6 MB must fit its heap to reach the
    decoder, which the shared fuzz VM's heap, fragmented by thousands of
    cases, need not offer (then the answer is a plain out-of-memory error)."""
    vm = LuaVM(runtime=Runtime())
    _plant_sentinel(vm)
    _engine_ext_body(vm, _deep(DEEP_NESTING), serializer.encode("k"))
    result = vm.eval('local ok, err = pcall(function() return ext.table("fuzz")[1] end) return ok, err')
    assert result.ok and result.values[0] is False
    assert "deep" in str(result.values[1]) or "depth" in str(result.values[1]), result.values


def test_engine_decoder_refuses_deep_nesting_in_a_host_call_reply() -> None:
    """Depends on issue 7 item 9."""
    _engine_reply_body(_shared_vm(), _deep(DEEP_NESTING))


# A precompiled chunk's header as Lua 5.4 on wasm32 writes it (lundump.c: checkHeader).
LUAC_HEADER = (b"\x1bLua\x54\x00\x19\x93\r\n\x1a\n\x04\x08\x08"
               + struct.pack("<q", 0x5678) + struct.pack("<d", 370.5))


# -- mutated Lua from the official test files

def _testes() -> Path:
    import sys

    root = Path(__file__).resolve().parent.parent
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    import hatch_build

    testes = Path(hatch_build.fetch_lua_sources()) / "testes"
    if not testes.is_dir():
        pytest.skip(f"{testes} does not exist: the Lua sources at LUA_WASM_LUA_SRC have no testes/ folder")
    return testes


@pytest.fixture(scope="module")
def lua_corpus() -> list[bytes]:
    files = sorted(p for p in _testes().glob("*.lua"))
    assert files, "testes/ has no .lua files"
    return [p.read_bytes() for p in files]


TOKENS = [b"end", b"function", b"(", b")", b"{", b"}", b"[[", b"]]", b"--[[", b"..", b"...", b"goto x",
          b"::x::", b"local", b"return", b"\"", b"'", b"\\", b"\x00", b"\xff\xfe", b"0x7fffffffffffffff",
          b"1e308", b"string.rep('x', 1 << 20)", b"collectgarbage()", b"coroutine.wrap", b"setmetatable({}, "
          b"{__gc = function() print('gc') end})", b"error(setmetatable({}, {__tostring = error}))", b"#", b"~"]


NUMBERS = [b"0", b"-1", b"0.0", b"-0.0", b"1e308", b"(0/0)", b"math.maxinteger", b"math.mininteger", b"2^53",
           b"0x7fffffffffffffff", b"100000000"]
_STATEMENT_START = re.compile(rb"^(?!end\b|else|until|[})\]]|--)\S", re.M)


def _mutate(rng: random.Random, source: bytes) -> bytes:
    """A few top-level statements of a test file, then a few mutations.

    Half the mutations keep the syntax (a number or an operator replaced), so
    most cases run; the rest damage it (cuts, stray tokens, random bytes)."""
    starts = [m.start() for m in _STATEMENT_START.finditer(source)] + [len(source)]
    first = rng.randrange(len(starts) - 1)
    last = min(len(starts) - 1, first + rng.randint(1, 4))
    window = bytearray(source[starts[first]:starts[last]])
    for _ in range(rng.choice([0, 1, 1, 2, 3, 6])):
        at = rng.randrange(len(window) + 1)
        op = rng.randrange(8)
        if op in (0, 1, 2):  # a number becomes another
            numbers = list(re.finditer(rb"\b\d+(\.\d+)?\b", bytes(window)))
            if numbers:
                m = rng.choice(numbers)
                window[m.start():m.end()] = rng.choice(NUMBERS)
        elif op == 3:  # an operator becomes another
            ops = list(re.finditer(rb"==|~=|<=|>=|\.\.|[-+*/%^<>#]", bytes(window)))
            if ops:
                m = rng.choice(ops)
                window[m.start():m.end()] = rng.choice([b"..", b"+", b"//", b"%", b"==", b"<", b"~", b"&", b"^"])
        elif op == 4 and window:
            del window[at:at + rng.randint(1, 20)]
        elif op == 5:
            window[at:at] = rng.choice(TOKENS)
        elif op == 6 and window:
            window[min(at, len(window) - 1)] = rng.randrange(256)
        else:
            window[at:at] = b" " + rng.choice(TOKENS) + b" "
    return bytes(window)


def _lua_case(vm: LuaVM, code: bytes, interrupt_after) -> None:
    with interrupt_after(vm, LUA_CASE_SECONDS):
        result = vm.eval(code, on_output=lambda stream, text: None)
    # A trap must roll back and say so (issue 7 item 5); an ordinary error is fine.
    if result.status == Status.TRAPPED:
        assert result.error and "roll" in result.error, result.error
    # Undo what a case may leave behind that would fail every later cell for reasons of its own.
    cleanup = vm.eval("if debug and debug.sethook then debug.sethook() end collectgarbage('restart') "
                      "setmetatable(_G, nil)", on_output=lambda stream, text: None)
    assert cleanup.status != Status.TRAPPED, cleanup.error
    if _may_reach_globals(code):
        # The test files clear globals on purpose (`for n in pairs(_G) do _G[n] = undef end`):
        # then only the VM's answer is checked, and the global planted again.
        # Such a chunk may also break the Lua environment for good (a debug
        # hook that raises, kept across cells as in lua.c, with debug.sethook
        # itself replaced): an error is an answer, a trap must roll back; then
        # the next case starts from a fresh Lua state.
        alive = vm.eval("return 1")
        assert alive.status in (Status.OK, Status.RUNTIME_ERROR), f"after the mutated chunk {code[:200]!r}: {alive.error}"
        if not (alive.ok and alive.values == [1]):
            vm.reset()
        _plant_sentinel(vm)
    else:
        _check_alive(vm, f"the mutated chunk {code[:200]!r}")


# Names through which a chunk can reach the table of globals as a whole.
GLOBALS_ROUTES = (b"_G", b"_ENV", b"debug", b"package", b"require", b"load", b"dofile")


def _may_reach_globals(code: bytes) -> bool:
    return any(route in code for route in GLOBALS_ROUTES)


def _lua_body(lua_corpus: list[bytes], seed: int, interrupt_after) -> None:
    rng = random.Random(seed)
    vm = _lua_vm()
    _lua_case(vm, _mutate(rng, rng.choice(lua_corpus)), interrupt_after)


_lua_holder: list[LuaVM] = []


def _lua_vm() -> LuaVM:
    if not _lua_holder:
        vm = LuaVM(runtime=Runtime())
        vm.watcher.escalate_after = 1.0
        _plant_sentinel(vm)
        _lua_holder.append(vm)
    return _lua_holder[0]


@_settings(DEFAULT_EXAMPLES["lua"])
@given(seed=st.integers(0, 2**32 - 1))
def test_mutated_official_tests_never_kill_the_vm(lua_corpus: list[bytes], seed: int, interrupt_after) -> None:
    """A trap must roll back (issue 7 item 5) if a case ever causes one."""
    _lua_body(lua_corpus, seed, interrupt_after)


@pytest.mark.slow
@_settings(FULL_EXAMPLES)
@given(seed=st.integers(0, 2**32 - 1))
def test_mutated_official_tests_never_kill_the_vm_full(lua_corpus: list[bytes], seed: int, interrupt_after) -> None:
    _lua_body(lua_corpus, seed, interrupt_after)


@_settings(DEFAULT_EXAMPLES["engine"])
@given(data=st.binary(max_size=200), flips=st.lists(st.integers(0, 10_000), max_size=8))
def test_mutated_binary_chunks_are_refused(data: bytes, flips: list[int]) -> None:
    """Depends on issue 7 item 8: binary chunks are refused as cells and through load()."""
    vm = _shared_vm()
    chunk = bytearray(LUAC_HEADER)
    for f in flips:
        chunk[4 + f % (len(chunk) - 4)] ^= 0x5A  # the signature stays: it is what makes it binary
    chunk += data
    result = vm.eval(bytes(chunk))
    assert result.status == Status.SYNTAX_ERROR, (result.status, result.error)
    assert "binary" in (result.error or ""), result.error
    literal = "".join(f"\\{b}" for b in chunk)
    loaded = vm.eval(f'local f, err = load("{literal}") return f == nil, err')
    assert loaded.ok and loaded.values[0] is True, loaded.values
    _check_alive(vm, "a binary chunk")


# string.dump(function() return 42 end, true) from this engine: a valid chunk.
VALID_CHUNK = bytes.fromhex(
    "1b4c7561540019930d0a1a0a04080878560000000000000000000000287740008081810000028301801480480002004700010080808080808080"
)


def test_a_valid_binary_chunk_is_refused_by_load_and_as_a_cell() -> None:
    """Depends on issue 7 item 8: today load() runs it and returns 42."""
    vm = _shared_vm()
    assert vm.eval(VALID_CHUNK).status == Status.SYNTAX_ERROR
    literal = "".join(f"\\{b}" for b in VALID_CHUNK)
    for loader in (f'load("{literal}")', f'load("{literal}", "x", "b")', f'load("{literal}", "x", "bt")'):
        result = vm.eval(f"local f, err = {loader} return f == nil, err")
        assert result.ok and result.values[0] is True, (loader, result.values)
    _check_alive(vm, "a valid binary chunk")


# -- mutated Lua through the real kernel: every cell answered, the kernel alive

KERNEL_LUA_CASES = 60
KERNEL_LUA_CASES_FULL = 1000


def _kernel_lua_cases(lua_corpus: list[bytes], count: int, seed: int) -> None:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as folder, kernel(LUA_WASM_CHECKPOINT_DIR=folder) as (km, kc):
        run(kc, f"{SENTINEL} = {SENTINEL_VALUE!r}")
        for case in range(count):
            code = _mutate(rng, rng.choice(lua_corpus)).decode("utf-8", "replace")
            msg_id = kc.execute(code, stop_on_error=False)
            waited = 0.0
            while True:  # a cell still running after LUA_CASE_SECONDS is interrupted, again until it answers
                try:
                    reply = kc.get_shell_msg(timeout=0.2)
                except Empty:
                    waited += 0.2
                    assert km.is_alive(), f"the kernel died on case {case}: {code[:300]!r}"
                    if waited >= LUA_CASE_SECONDS:
                        km.interrupt_kernel()
                    continue
                if reply["parent_header"].get("msg_id") == msg_id:
                    break
            assert reply["content"]["status"] in ("ok", "error"), reply["content"]
            drain(kc)
            reply, messages = run(kc, "if debug and debug.sethook then debug.sethook() end "
                                      f"collectgarbage('restart') setmetatable(_G, nil) return {SENTINEL}")
            assert reply["content"]["status"] == "ok", (code[:300], reply["content"])
            got = [m["content"]["data"]["text/plain"] for m in messages if m["msg_type"] == "execute_result"]
            if _may_reach_globals(code.encode()):
                run(kc, f"{SENTINEL} = {SENTINEL_VALUE!r}")
            else:
                assert got == [SENTINEL_VALUE], f"after case {case} ({code[:300]!r}) the untouched global is {got}"


def test_mutated_official_tests_through_the_kernel(lua_corpus: list[bytes]) -> None:
    """Every mutated cell gets its reply and the kernel lives (issue 7 items 2 and 4)."""
    _kernel_lua_cases(lua_corpus, KERNEL_LUA_CASES, seed=1)


@pytest.mark.slow
def test_mutated_official_tests_through_the_kernel_full(lua_corpus: list[bytes]) -> None:
    _kernel_lua_cases(lua_corpus, KERNEL_LUA_CASES_FULL, seed=int(os.environ.get("LUA_WASM_FUZZ_SEED", "2")))
