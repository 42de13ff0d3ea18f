//! The libraries a cell sees: Lua's own safe ones and its io (over the
//! confined file layer of files.zig), plus a sandboxed `os` built from the
//! native functions here and the Lua prelude.
const std = @import("std");
const lua = @import("lua.zig");
const c = lua.c;
const ffi = @import("ffi.zig");
const hostcall = @import("hostcall.zig");
const ext = @import("ext.zig");
const wasmlib = @import("wasmlib.zig");
const files = @import("files.zig");
const ct = c;

const prelude_source = @embedFile("prelude.lua");

/// Registry field holding the prelude's result table (render, ...).
pub const prelude_key = "lua_wasm.prelude";

const safe_libs = [_]struct { name: [*:0]const u8, open: lua.CFn }{
    .{ .name = "_G", .open = c.luaopen_base },
    .{ .name = "package", .open = c.luaopen_package },
    .{ .name = "coroutine", .open = c.luaopen_coroutine },
    .{ .name = "table", .open = c.luaopen_table },
    .{ .name = "string", .open = c.luaopen_string },
    .{ .name = "math", .open = c.luaopen_math },
    .{ .name = "utf8", .open = c.luaopen_utf8 },
    .{ .name = "debug", .open = c.luaopen_debug },
    .{ .name = "io", .open = c.luaopen_io },
};

const natives = [_]struct { name: [*:0]const u8, f: lua.CFn }{
    .{ .name = "remove", .f = files.osRemove },
    .{ .name = "rename", .f = files.osRename },
    .{ .name = "tmpname", .f = files.osTmpname },
    .{ .name = "time", .f = nativeTime },
    .{ .name = "clock", .f = nativeClock },
    .{ .name = "wall", .f = nativeWall },
    .{ .name = "date", .f = nativeDate },
};

/// Opens everything; a protected call (it allocates).
pub fn open(L: ?*lua.State) callconv(.c) c_int {
    for (safe_libs) |lib| {
        c.luaL_requiref(L, lib.name, lib.open, 1);
        lua.pop(L, 1);
    }
    if (c.luaL_loadbufferx(L, prelude_source, prelude_source.len, "=prelude", "t") != c.LUA_OK)
        _ = c.lua_error(L);
    c.lua_createtable(L, 0, natives.len);
    for (natives) |n| {
        lua.pushCFunction(L, n.f);
        c.lua_setfield(L, -2, n.name);
    }
    lua.call(L, 1, 1);
    hostcall.open(L); // display, require: they use the prelude's helpers
    ext.open(L); // external tables
    wasmlib.open(L); // memory, gc, snapshots
    c.lua_setfield(L, c.LUA_REGISTRYINDEX, prelude_key);
    return 0;
}

/// time([t]): now, or the UTC time described by table t, whose fields are
/// then normalized in place (loslib's os_time, with timegm for mktime).
fn nativeTime(L: ?*lua.State) callconv(.c) c_int {
    if (c.lua_type(L, 1) <= c.LUA_TNIL) {
        c.lua_pushinteger(L, @intFromFloat(@floor(ffi.now(.wall_seconds))));
        return 1;
    }
    c.luaL_checktype(L, 1, c.LUA_TTABLE);
    c.lua_settop(L, 1);
    var tm: ct.struct_tm = std.mem.zeroes(ct.struct_tm);
    tm.tm_year = field(L, "year", -1, 1900);
    tm.tm_mon = field(L, "month", -1, 1);
    tm.tm_mday = field(L, "day", -1, 0);
    tm.tm_hour = field(L, "hour", 12, 0);
    tm.tm_min = field(L, "min", 0, 0);
    tm.tm_sec = field(L, "sec", 0, 0);
    const t = ct.timegm(&tm);
    setAllFields(L, &tm);
    if (t == -1) _ = c.luaL_error(L, "time result cannot be represented in this installation");
    c.lua_pushinteger(L, t);
    return 1;
}

/// loslib's getfield: an integer field of the table on top, minus `delta`.
fn field(L: ?*lua.State, key: [*:0]const u8, default: c_int, delta: c_int) c_int {
    const t = c.lua_getfield(L, -1, key);
    var isnum: c_int = 0;
    var v = c.lua_tointegerx(L, -1, &isnum);
    if (isnum == 0) {
        if (t != c.LUA_TNIL) _ = c.luaL_error(L, "field '%s' is not an integer", key);
        if (default < 0) _ = c.luaL_error(L, "field '%s' missing in date table", key);
        v = default;
    } else {
        // Compared without computing v - delta, which could overflow.
        const in_range = if (v >= 0) v - delta <= std.math.maxInt(c_int) else std.math.minInt(c_int) + @as(i64, delta) <= v;
        if (!in_range) _ = c.luaL_error(L, "field '%s' is out-of-bound", key);
        v -= delta;
    }
    lua.pop(L, 1);
    return @intCast(v);
}

/// loslib's setallfields: the fields of `tm` into the table on top.
fn setAllFields(L: ?*lua.State, tm: *const ct.struct_tm) void {
    const fields = .{ .{ "year", tm.tm_year, 1900 }, .{ "month", tm.tm_mon, 1 }, .{ "day", tm.tm_mday, 0 }, .{ "hour", tm.tm_hour, 0 }, .{ "min", tm.tm_min, 0 }, .{ "sec", tm.tm_sec, 0 }, .{ "yday", tm.tm_yday, 1 }, .{ "wday", tm.tm_wday, 1 } };
    inline for (fields) |f| {
        c.lua_pushinteger(L, @as(i64, f[1]) + f[2]);
        c.lua_setfield(L, -2, f[0]);
    }
    c.lua_pushboolean(L, 0); // UTC: never daylight saving time
    c.lua_setfield(L, -2, "isdst");
}

/// clock(): the host's CPU time of the process, in seconds.
fn nativeClock(L: ?*lua.State) callconv(.c) c_int {
    c.lua_pushnumber(L, ffi.now(.cpu_seconds));
    return 1;
}

/// wall(): the host's wall clock, in seconds with a fraction.
fn nativeWall(L: ?*lua.State) callconv(.c) c_int {
    c.lua_pushnumber(L, ffi.now(.wall_seconds));
    return 1;
}

/// Conversions os.date accepts (loslib's LUA_STRFTIMEOPTIONS for C99):
/// one-character ones, then after "||" two-character ones.
const strftime_options = "aAbBcCdDeFgGhHIjmMnprRStTuUVwWxXyYzZ%" ++ "||" ++
    "EcECExEXEyEY" ++ "OdOeOHOIOmOMOSOuOUOVOwOWOy";

/// Longest result of one conversion (loslib's SIZETIMEFMT).
const strftime_item_size_max_bytes = 250;

/// date([format [, time]]): loslib's os_date, always in UTC (the sandbox has
/// no time zone, so a leading '!' changes nothing).
fn nativeDate(L: ?*lua.State) callconv(.c) c_int {
    var len: usize = 0;
    const format = c.luaL_optlstring(L, 1, "%c", &len);
    const when: ct.time_t = if (c.lua_type(L, 2) <= c.LUA_TNIL)
        @intFromFloat(@floor(ffi.now(.wall_seconds)))
    else
        c.luaL_checkinteger(L, 2);
    var s = format[0..len];
    if (s.len > 0 and s[0] == '!') s = s[1..];
    var tm: ct.struct_tm = undefined;
    if (ct.gmtime_r(&when, &tm) == null)
        _ = c.luaL_error(L, "date result cannot be represented in this installation");
    if (std.mem.eql(u8, std.mem.sliceTo(s, 0), "*t")) {
        c.lua_createtable(L, 0, 9);
        setAllFields(L, &tm);
        return 1;
    }
    var b: c.luaL_Buffer = undefined;
    c.luaL_buffinit(L, &b);
    var i: usize = 0;
    while (i < s.len) {
        if (s[i] != '%') {
            const dst = c.luaL_prepbuffsize(&b, 1);
            dst[0] = s[i];
            b.n += 1;
            i += 1;
            continue;
        }
        i += 1;
        var conversion: [4]u8 = .{ '%', 0, 0, 0 };
        const option_len = checkOption(L, s[i..], conversion[1..]);
        i += option_len;
        const dst = c.luaL_prepbuffsize(&b, strftime_item_size_max_bytes);
        b.n += ct.strftime(dst, strftime_item_size_max_bytes, @ptrCast(&conversion), &tm);
    }
    c.luaL_pushresult(&b);
    return 1;
}

/// loslib's checkoption: copies the valid conversion at the start of `conv`
/// into `out` (NUL-terminated) and returns its length, or raises an error.
fn checkOption(L: ?*lua.State, conv: []const u8, out: []u8) usize {
    var option_len: usize = 1;
    var rest: []const u8 = strftime_options;
    while (rest.len > 0 and option_len <= conv.len) {
        if (rest[0] == '|') { // next block: options one character longer ("||" is one step)
            option_len += 1;
            rest = rest[option_len..];
        } else if (std.mem.eql(u8, rest[0..option_len], conv[0..option_len])) {
            @memcpy(out[0..option_len], conv[0..option_len]);
            out[option_len] = 0;
            return option_len;
        } else rest = rest[option_len..];
    }
    const text = lua.pushSlice(L, conv); // up to the end, as loslib shows it (to a NUL)
    _ = c.luaL_argerror(L, 1, c.lua_pushfstring(L, "invalid conversion specifier '%%%s'", text));
    unreachable;
}

// Lua's own time(NULL) and clock() calls (math.randomseed, the string-hash
// seed) read the host clock too; see lua_user.h.
export fn lw_time(t: ?*ct.time_t) ct.time_t {
    const now: ct.time_t = @intFromFloat(@floor(ffi.now(.wall_seconds)));
    if (t) |p| p.* = now;
    return now;
}

export fn lw_clock() ct.clock_t {
    return @intFromFloat(ffi.now(.cpu_seconds) * ct.CLOCKS_PER_SEC);
}

test {
    _ = files; // its exports back liolib (lw_stdio.h)
}

const harness = @import("test_harness.zig");

test "os.time, os.clock and os.date read the host's clocks, in UTC" {
    const L = harness.engine();
    // The stand-in host: wall clock 1.7e9 s, CPU clock 0.5 s.
    try harness.run(L,
        \\assert(os.time() == 1700000000 and math.type(os.time()) == "integer")
        \\assert(os.clock() == 0.5)
        \\assert(os.date("!%Y-%m-%d %H:%M:%S", 0) == "1970-01-01 00:00:00")
        \\assert(os.date("%Y-%m-%d %H:%M:%S", 0) == "1970-01-01 00:00:00")
        \\assert(os.date("%Y") == "2023", os.date("%Y"))
        \\assert(os.date("%Ey|%Od|%%|x", 86400 * 31) == "70|01|%|x")
        \\local t = os.date("*t", 86400)
        \\assert(t.year == 1970 and t.month == 1 and t.day == 2 and t.hour == 0)
        \\assert(t.yday == 2 and t.wday == 6 and t.isdst == false)
        \\assert(os.date("!*t").year == 2023)
    );
}

test "os.time of a table is UTC, and normalizes the table's fields" {
    const L = harness.engine();
    try harness.run(L,
        \\assert(os.time{year = 2000, month = 1, day = 1, hour = 0} == 946684800)
        \\assert(os.time{year = 2000, month = 1, day = 1} == 946684800 + 12 * 3600)
        \\local t = {year = 2000, month = 13, day = 32, hour = 25, min = -1, sec = 61}
        \\os.time(t)
        \\assert(t.year == 2001 and t.month == 2 and t.day == 2 and t.hour == 1)
        \\assert(t.min == 0 and t.sec == 1 and t.isdst == false and t.yday == 33)
    );
}

test "os.time and os.date refuse what loslib refuses" {
    const L = harness.engine();
    try harness.run(L,
        \\local function fails(pattern, f, ...)
        \\  local ok, msg = pcall(f, ...)
        \\  assert(not ok and msg:find(pattern, 1, true), msg)
        \\end
        \\fails("field 'day' missing in date table", os.time, {year = 2000, month = 1})
        \\fails("field 'month' is not an integer", os.time, {year = 2000, month = 1.5, day = 1})
        \\fails("field 'year' is out-of-bound", os.time, {year = 1 << 40, month = 1, day = 1})
        \\fails("field 'year' is out-of-bound", os.time, {year = -(1 << 40), month = 1, day = 1})
        \\fails("table expected", os.time, "now")
        \\fails("invalid conversion specifier '%Ez'", os.date, "%Ez")
        \\fails("invalid conversion specifier '%'", os.date, "abc%")
        \\fails("invalid conversion specifier '%Q'", os.date, "%Q", 0)
    );
}

test "Lua's own time() and clock() read the host's clocks" {
    var t: ct.time_t = 0;
    try std.testing.expectEqual(@as(ct.time_t, 1_700_000_000), lw_time(&t));
    try std.testing.expectEqual(@as(ct.time_t, 1_700_000_000), t);
    try std.testing.expectEqual(@as(ct.time_t, 1_700_000_000), lw_time(null));
    try std.testing.expectEqual(@divExact(@as(ct.clock_t, ct.CLOCKS_PER_SEC), 2), lw_clock());
}

test "the sandbox's libraries and its os are in place" {
    const L = harness.engine();
    try harness.run(L,
        \\for _, name in ipairs{"package", "coroutine", "table", "string", "math", "utf8", "debug", "io", "os", "ext", "wasm"} do
        \\  assert(type(_G[name]) == "table", name)
        \\end
        \\assert(package.loaded.os == os and package.loaded.ext == ext and package.loaded.wasm == wasm)
        \\assert(not pcall(os.execute))
        \\assert(os.getenv("HOME") == nil and os.setlocale() == "C")
    );
}
