"""src/numfmt.c (double-only %a %e %f %g; lua_Integer %d %i %o %u %x %X) is byte-identical to native Lua's string.format.

The formatter is compiled natively (zig cc) and called through ctypes, so
hundreds of thousands of values are checked in seconds; native Lua 5.4 is
lupa's `lua54`, whose string.format is glibc's printf. Where glibc departs
from the C standard, the formatter follows the standard (as musl does); those
corners are listed in GLIBC_CORNERS and recognised by `glibc_corner`, and in
them the formatter is checked against an independent reference instead.
The last tests check Lua in the VM (which routes tostring and string.format's
float conversions here, src/lua_user.h) against native Lua the same way.
wasi-libc's printf is musl's, so the VM followed the standard in those corners
before this formatter too: the VM tests guard the routing, they cannot tell
it from the C library's output, which is the point.
"""
from __future__ import annotations

import ctypes
import random
import re
import struct
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

ROOT = Path(__file__).resolve().parent.parent
FLOAT_CONVS = "aAeEfgG"
# Lua's checkformat allows at most two digits of width and of precision.
WIDTH_MAX = 99
PREC_MAX = 99
BUF_BYTES = 1024

# (format, value, glibc's output, the C standard's and ours)
GLIBC_CORNERS = [
    # %#g whose rounding carries into a new power of ten: glibc drops the zeros '#' keeps.
    ("%#.3g", 999.7, "1.e+03", "1.00e+03"),
    ("%#g", 999999.5, "1.e+06", "1.00000e+06"),
    ("%#.2g", 99.5, "1.e+02", "1.0e+02"),
    # %a of subnormals: glibc writes 0x0.<digits>p-1022, the standard's normalized form has a leading 1.
    ("%a", 5e-324, "0x0.0000000000001p-1022", "0x1p-1074"),
    ("%a", 2.2250738585072009e-308, "0x0.fffffffffffffp-1022", "0x1.ffffffffffffep-1023"),
    ("%.1A", -1e-310, "-0X0.0P-1022", "-0X1.2P-1030"),
    ("%#.0a", 1e-310, "0x0.p-1022", "0x1.p-1030"),
]


def f64(bits: int) -> float:
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


def bits_of(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def is_subnormal(x: float) -> bool:
    return (bits_of(x) >> 52) & 0x7FF == 0 and x != 0


SPEC_RE = re.compile(r"%([-+ #0]*)(\d*)(?:\.(\d*))?([aAeEfgG])$")


def hex_reference(fmt: str, x: float) -> str:
    """The C standard's %a with a normalized leading digit (musl's output), for finite x."""
    flags, width, prec_s, conv = SPEC_RE.match(fmt).groups()
    prec = None if prec_s is None else int(prec_s or 0)
    bits = bits_of(x)
    sign = "-" if bits >> 63 else "+" if "+" in flags else " " if " " in flags else ""
    m, e = bits & ((1 << 52) - 1), (bits >> 52) & 0x7FF
    if e == 0 and m == 0:
        v, exp = 0, 0
    else:
        if e:
            m, exp = m | (1 << 52), e - 1023
        else:
            exp = -1022
            while not m >> 52:
                m, exp = m << 1, exp - 1
        v = m  # leading digit in bits 52 and up, 13 hex digits below
    digits = 13
    if prec is not None and prec < 13:
        drop = 4 * (13 - prec)
        q, r = divmod(v, 1 << drop)
        half = 1 << (drop - 1)
        if r > half or (r == half and q & 1):
            q += 1
        v, digits = q << drop, prec
    frac = f"{v & ((1 << 52) - 1):013x}"[:digits]
    if prec is None:
        frac = frac.rstrip("0")
    else:
        frac = frac.ljust(prec, "0")
    body = f"{v >> 52:x}" + ("." if frac or "#" in flags else "") + frac + f"p{exp:+d}"
    w = int(width or 0)
    if "-" in flags:
        out = (sign + "0x" + body).ljust(w)
    elif "0" in flags:
        out = sign + "0x" + body.rjust(w - len(sign) - 2, "0")
    else:
        out = (sign + "0x" + body).rjust(w)
    return out.upper() if conv == "A" else out


def glibc_corner(fmt: str, x: float) -> str | None:
    """Which known glibc departure (fmt, x) falls in, or None."""
    conv = fmt[-1]
    if conv in "aA" and is_subnormal(x):
        return "subnormal %a"
    flags, _, prec_s, _ = SPEC_RE.match(fmt).groups()
    if conv in "gG" and "#" in flags and x == x and abs(x) != float("inf") and x != 0:
        p = 6 if prec_s is None else max(1, int(prec_s or 0))
        rounded = Decimal(f"{abs(x):.{p - 1}e}")
        if rounded.adjusted() != Decimal(abs(x)).adjusted():
            return "%#g rounding up to a new power of ten"
    return None


@pytest.fixture(scope="module")
def numfmt(tmp_path_factory) -> ctypes.CDLL:
    """src/numfmt.c built as a native shared library."""
    out = tmp_path_factory.mktemp("numfmt") / "numfmt.so"
    subprocess.run([sys.executable, "-m", "ziglang", "cc", "-O2", "-shared", "-fPIC", "-o", str(out),
                    str(ROOT / "src" / "numfmt.c")], check=True)
    lib = ctypes.CDLL(str(out))
    lib.lw_numfmt.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_double]
    lib.lw_numfmt.restype = ctypes.c_int
    lib.lw_intfmt.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_longlong]
    lib.lw_intfmt.restype = ctypes.c_int
    return lib


@pytest.fixture(scope="module")
def native():
    """Native Lua's string.format over lists of (format, value)."""
    from lupa import lua54

    lua = lua54.LuaRuntime()
    many = lua.eval("function(fs, xs) local out = {} for i = 1, #fs do "
                    "out[i] = string.format(fs[i], xs[i]) end return out end")

    def run(cases: list[tuple[str, float]]) -> list[str]:
        res = many(lua.table_from([c[0] for c in cases]), lua.table_from([c[1] for c in cases]))
        return [res[i + 1] for i in range(len(cases))]

    return run


def ours(lib: ctypes.CDLL, fmt: str, x: float, size: int = BUF_BYTES) -> str:
    buf = ctypes.create_string_buffer(size)
    n = lib.lw_numfmt(buf, size, fmt.encode(), x)
    if n < 0:
        raise ValueError(f"lw_numfmt refused {fmt!r}")
    text = buf.value.decode()
    if n != len(text):  # the count snprintf would return
        raise AssertionError(f"{fmt!r} % {x!r}: returned {n}, wrote {len(text)}")
    return text


def check(lib, native, cases: list[tuple[str, float]]) -> None:
    expected = native(cases)
    for (fmt, x), want in zip(cases, expected):
        got = ours(lib, fmt, x)
        if got == want:
            continue
        corner = glibc_corner(fmt, x)
        assert corner is not None, f"{fmt!r} of {x!r} ({bits_of(x):#018x}): native {want!r}, ours {got!r}"
        standard = hex_reference(fmt, x) if fmt[-1] in "aA" else fmt % x
        assert got == standard, f"{corner}: {fmt!r} of {x!r}: ours {got!r}, C standard {standard!r}"


# -- strategies

flags_st = st.lists(st.sampled_from("-+ #0"), unique=True, max_size=5).map("".join)
width_st = st.one_of(st.just(""), st.integers(0, WIDTH_MAX).map(str))
prec_st = st.one_of(st.just(""), st.just("."), st.integers(0, PREC_MAX).map(lambda p: f".{p}"))
spec_st = st.builds(lambda f, w, p, c: f"%{f}{w}{p}{c}", flags_st, width_st, prec_st, st.sampled_from(FLOAT_CONVS))


def near_power_of_ten(k: int, step: int) -> float:
    """A double a few ulps from 10^k, or from 9.5 * 10^k (where rounding carries)."""
    base = float(f"1e{k}") if step % 2 else float(f"9.5e{k}")
    return f64(max(0, min(bits_of(base) + step // 2 - 3, 0x7FEFFFFFFFFFFFFF)))


value_st = st.one_of(
    st.integers(0, 2**64 - 1).map(f64),  # random bit patterns: NaNs with payloads, infinities
    st.builds(lambda m, neg: f64(m | neg << 63), st.integers(1, 2**52 - 1), st.integers(0, 1)),  # subnormals
    st.floats(allow_nan=True, allow_infinity=True),
    st.builds(near_power_of_ten, st.integers(-300, 300), st.integers(0, 11)),
    st.sampled_from([0.0, -0.0, 0.5, 1.5, 2.5, 0.125, 1e15, 1e16, 123456789012345678.0, 5e-324, 1.7976931348623157e308]),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(spec_st, value_st), min_size=1, max_size=300))
def test_matches_native_lua(numfmt, native, cases):
    check(numfmt, native, cases)


@settings(max_examples=200, deadline=None)
@given(st.lists(value_st, min_size=1, max_size=300))
def test_tostring_format_matches_native_lua(numfmt, native, values):
    """%.14g, the format of tostring (lua_number2str)."""
    check(numfmt, native, [("%.14g", x) for x in values])


def random_cases(seed: int, count: int) -> list[tuple[str, float]]:
    rnd = random.Random(seed)
    cases = []
    for _ in range(count):
        bits = rnd.getrandbits(64)
        if rnd.random() < 0.1:
            bits &= ~(0x7FF << 52)  # a subnormal (or zero)
        flags = "".join(rnd.sample("-+ #0", rnd.randint(0, 5)))
        width = rnd.choice(["", str(rnd.randint(0, WIDTH_MAX))])
        prec = rnd.choice(["", ".", f".{rnd.randint(0, PREC_MAX)}", f".{rnd.randint(0, 20)}"])
        cases.append((f"%{flags}{width}{prec}{rnd.choice(FLOAT_CONVS)}", f64(bits)))
    return cases


def test_many_random_bit_patterns(numfmt, native):
    check(numfmt, native, random_cases(20261128, 100_000))


@pytest.mark.slow
def test_millions_of_random_bit_patterns(numfmt, native):
    for seed in range(10):
        check(numfmt, native, random_cases(seed, 200_000))


@pytest.mark.parametrize(("fmt", "x", "glibc", "standard"), GLIBC_CORNERS)
def test_glibc_corners_follow_the_c_standard(numfmt, native, fmt, x, glibc, standard):
    assert native([(fmt, x)]) == [glibc]  # the corner is real on this platform
    assert glibc_corner(fmt, x) is not None
    assert ours(numfmt, fmt, x) == standard


@pytest.mark.parametrize(("fmt", "x", "want"), [
    ("%.0f", 0.5, "0"), ("%.0f", 1.5, "2"), ("%.0f", 2.5, "2"), ("%.1f", 0.25, "0.2"),  # ties to even
    ("%.2f", 1.005, "1.00"), ("%.0e", 25.0, "2e+01"), ("%.14g", 0.1, "0.1"), ("%.14g", 1e15, "1e+15"),
    ("%.14g", -0.0, "-0"), ("%5.1f", float("inf"), "  inf"), ("%05.1f", float("-inf"), " -inf"),
    ("%E", float("nan"), "NAN"), ("%.0a", 1.5, "0x2p+0"), ("%.99f", 5e-324, "0." + "0" * 99),
    ("%.3a", 1.0, "0x1.000p+0"), ("%#a", 0.0, "0x0.p+0"), ("%010.2f", -3.14159, "-000003.14"),
])
def test_spot_values(numfmt, native, fmt, x, want):
    assert ours(numfmt, fmt, x) == want
    check(numfmt, native, [(fmt, x)])


def test_largest_outputs_fit_and_truncate_like_snprintf(numfmt, native):
    big = [("%.99f", -1.7976931348623157e308), ("%-99.99e", 5e-324), ("%#99.99g", 2.2250738585072014e-308)]
    check(numfmt, native, big)
    assert len(ours(numfmt, "%.99f", 1.7976931348623157e308)) == 309 + 1 + 99
    buf = ctypes.create_string_buffer(8)
    n = numfmt.lw_numfmt(buf, 8, b"%.99f", 1.5)
    assert n == 101 and buf.value == b"1.50000"


def test_non_float_formats_are_refused_by_lw_numfmt(numfmt):
    buf = ctypes.create_string_buffer(64)
    for fmt in (b"%d", b"%s", b"%.14gx", b"x%.14g", b"%lld", b"%.100f", b"%100f", b"%%"):
        assert numfmt.lw_numfmt(buf, 64, fmt, 1.0) == -1, fmt


def test_sprintf_passes_other_formats_to_the_c_library(numfmt):
    buf = ctypes.create_string_buffer(64)
    sprintf = numfmt.lw_numfmt_sprintf
    sprintf.restype = ctypes.c_int
    assert sprintf(buf, 64, b"%5lld", ctypes.c_longlong(-42)) == 5 and buf.value == b"  -42"
    assert sprintf(buf, 64, b"%s", b"abc") == 3 and buf.value == b"abc"
    assert sprintf(buf, 64, b"%+.3e", ctypes.c_double(1234.5)) == 10 and buf.value == b"+1.234e+03"
    assert sprintf(buf, 64, b"\\%03d", ctypes.c_int(7)) == 4 and buf.value == b"\\007"


# -- integers: lobject.c's "%lld" and string.format's %d %i %o %u %x %X

INT_FLAGS = {"d": "-+0 ", "i": "-+0 ", "u": "-0", "o": "-#0", "x": "-#0", "X": "-#0"}  # lstrlib's L_FMTFLAGS*
INT_EDGES = [0, 1, -1, 7, 8, 9, 10, 15, 16, 99, 100, -100, 2**31 - 1, -2**31, 2**32, 2**53 + 1,
             2**63 - 1, -2**63, -2**63 + 1]


def random_int_cases(seed: int, count: int) -> list[tuple[str, int]]:
    rnd = random.Random(seed)
    cases = []
    for _ in range(count):
        conv = rnd.choice("diouxX")
        flags = "".join(rnd.sample(INT_FLAGS[conv], rnd.randint(0, len(INT_FLAGS[conv]))))
        width = rnd.choice(["", str(rnd.randint(0, WIDTH_MAX)), str(rnd.randint(0, 25))])
        prec = rnd.choice(["", ".", f".{rnd.randint(0, PREC_MAX)}", f".{rnd.randint(0, 25)}", ".0"])
        v = rnd.choice([rnd.choice(INT_EDGES), rnd.randint(-1000, 1000), rnd.getrandbits(64) - 2**63,
                        rnd.getrandbits(rnd.randint(1, 63)) * rnd.choice([1, -1])])
        cases.append((f"%{flags}{width}{prec}{conv}", v))
    return cases


def ours_int(lib: ctypes.CDLL, fmt: str, v: int, size: int = BUF_BYTES) -> str:
    buf = ctypes.create_string_buffer(size)
    n = lib.lw_intfmt(buf, size, (fmt[:-1] + "ll" + fmt[-1]).encode(), ctypes.c_longlong(v))
    if n < 0:
        raise ValueError(f"lw_intfmt refused {fmt!r}")
    text = buf.value.decode()
    if n != len(text):
        raise AssertionError(f"{fmt!r} % {v!r}: returned {n}, wrote {len(text)}")
    return text


def test_integers_match_native_lua(numfmt, native):
    cases = random_int_cases(20261128, 100_000)
    cases += [(f"%{f}{w}{p}{c}", v) for c in "diouxX" for f in ("", INT_FLAGS[c])
              for w in ("", "1", "25") for p in ("", ".", ".0", ".1", ".30") for v in INT_EDGES]
    for (fmt, v), want in zip(cases, native(cases)):
        assert ours_int(numfmt, fmt, v) == want, f"{fmt!r} of {v!r}"


def test_integer_output_truncates_like_snprintf(numfmt):
    buf = ctypes.create_string_buffer(8)
    assert numfmt.lw_intfmt(buf, 8, b"%-20lld", ctypes.c_longlong(-12345)) == 20
    assert buf.value == b"-12345 "


def test_other_formats_are_refused_by_lw_intfmt(numfmt):
    buf = ctypes.create_string_buffer(64)
    assert numfmt.lw_intfmt(buf, 64, b"%lli", ctypes.c_longlong(5)) == 1 and buf.value == b"5"
    for fmt in (b"%d", b"%ld", b"%llc", b"x%lld", b"%lldx", b"%100lld", b"%.100llx", b"%lls", b"%.3f"):
        assert numfmt.lw_intfmt(buf, 64, fmt, ctypes.c_longlong(5)) == -1, fmt


VM_INT_CHUNK = """
local fs, vs, out = ..., {}, {}
for i = 1, #fs do
  local v = string.unpack("<i8", BLOB, 8 * i - 7)
  out[#out + 1] = string.format(fs[i], v)
  out[#out + 1] = tostring(v) .. " " .. v
end
return table.concat(out, "\\n")
"""


def test_vm_formats_integers_like_native_lua(vm):
    from lupa import lua54

    lua = lua54.LuaRuntime()
    cases = random_int_cases(77, 4000)
    blob = "".join(f"\\x{b:02x}" for _, v in cases for b in struct.pack("<q", v))
    fmts = ", ".join(f'"{fmt}"' for fmt, _ in cases)
    chunk = f"local FS = {{{fmts}}}\n" + VM_INT_CHUNK.replace("...", "FS").replace("BLOB", f'"{blob}"')
    res = vm.eval(chunk, "=intfmt")
    assert res.ok, res.error
    got, want = res.values[0].split("\n"), lua.execute(chunk).split("\n")
    assert len(got) == len(want) == 2 * len(cases)
    for i, (fmt, v) in enumerate(cases):
        assert got[2 * i] == want[2 * i], f"string.format({fmt!r}, {v!r})"
        assert got[2 * i + 1] == want[2 * i + 1], f"tostring({v!r})"


IO_WRITE_CHUNK = """
local out = OUT
for i = 1, #BLOB // 8 do
  local x = string.unpack("<d", BLOB, 8 * i - 7)
  out:write(x, " ", math.tointeger(x) or -i, "\\n")
end
if out ~= io.stdout then out:seek("set") return out:read("a") end
"""


def test_vm_io_write_formats_numbers_like_native_lua(vm):
    """io.write's numbers (liolib's fprintf with LUA_NUMBER_FMT, src/lw_stdio.h) go through numfmt."""
    from lupa import lua54

    rnd = random.Random(99)
    xs = [f64(rnd.getrandbits(64)) for _ in range(3000)] + [float(rnd.randint(-10**6, 10**6)) for _ in range(500)]
    xs += [0.0, -0.0, 1e300 * 1e300, -1e300 * 1e300, 2.0**-1074, 0.1, 1 / 3, 2.0**63, -2.0**63, 1e15, 1e16]
    blob = "".join(f"\\x{b:02x}" for x in xs for b in struct.pack("<d", x))
    chunk = f'local BLOB = "{blob}"\n' + IO_WRITE_CHUNK
    printed: list[str] = []
    res = vm.eval(chunk.replace("OUT", "io.stdout"), "=iowrite", on_output=lambda _stream, text: printed.append(text))
    assert res.ok, res.error
    want = lua54.LuaRuntime().execute(chunk.replace("OUT", "io.tmpfile()"))
    got, want_lines = "".join(printed).split("\n"), want.split("\n")
    assert len(want_lines) == len(xs) + 1
    assert len(got) == len(want_lines)
    for x, g, w in zip(xs, got, want_lines):
        assert g == w, f"io.write of {x!r}: VM {g!r}, native {w!r}"


# -- the routed build: Lua in the VM formats as native Lua does

VM_CHUNK = """
local fs, blob, out = ..., {}, {}
for i = 1, #fs do
  local x = string.unpack("<d", BLOB, 8 * i - 7)
  out[#out + 1] = string.format(fs[i], x)
  out[#out + 1] = tostring(x)
end
return table.concat(out, "\\n")
"""


def vm_chunk(cases: list[tuple[str, float]]) -> str:
    blob = "".join(f"\\x{b:02x}" for x in (c[1] for c in cases) for b in struct.pack("<d", x))
    fmts = ", ".join(f'"{fmt}"' for fmt, _ in cases)
    return f"local FS = {{{fmts}}}\n" + VM_CHUNK.replace("...", "FS").replace("BLOB", f'"{blob}"')


@pytest.fixture(scope="module")
def vm():
    from lua_wasm_kernel.vm import LuaVM

    return LuaVM(memory_bytes=32 * 1024 * 1024)


def test_vm_formats_like_native_lua(vm, numfmt):
    from lupa import lua54

    lua = lua54.LuaRuntime()
    for seed in range(3):
        cases = random_cases(1000 + seed, 2000)
        chunk = vm_chunk(cases)
        res = vm.eval(chunk, "=numfmt")
        assert res.ok, res.error
        got = res.values[0].split("\n")
        want = lua.execute(chunk).split("\n")
        assert len(got) == len(want) == 2 * len(cases)
        for i, (fmt, x) in enumerate(cases):
            assert got[2 * i + 1] == want[2 * i + 1], f"tostring({x!r})"
            if got[2 * i] != want[2 * i]:
                assert glibc_corner(fmt, x) is not None, f"{fmt!r} of {x!r}: VM {got[2 * i]!r}, native {want[2 * i]!r}"
                assert got[2 * i] == ours(numfmt, fmt, x)


def test_vm_glibc_corners_follow_the_c_standard(vm):
    for fmt, x, _, standard in GLIBC_CORNERS:
        res = vm.eval(vm_chunk([(fmt, x)]), "=numfmt")
        assert res.ok, res.error
        assert res.values[0].split("\n")[0] == standard, fmt
