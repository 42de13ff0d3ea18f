//! The libraries a cell sees: Lua's own safe ones, plus sandboxed `io` and
//! `os` built from the native functions here and the Lua prelude.
const std = @import("std");
const lua = @import("lua.zig");
const c = lua.c;
const ffi = @import("ffi.zig");
const output = @import("output.zig");
const ct = c;

const prelude_source = @embedFile("prelude.lua");

/// Registry field holding the prelude's result table (render, ...).
pub const prelude_key = "lua_wasm.prelude";

const safe_libs = [_]struct { name: [*:0]const u8, open: lua.CFn }{
    .{ .name = "_G", .open = c.luaopen_base },
    .{ .name = "coroutine", .open = c.luaopen_coroutine },
    .{ .name = "table", .open = c.luaopen_table },
    .{ .name = "string", .open = c.luaopen_string },
    .{ .name = "math", .open = c.luaopen_math },
    .{ .name = "utf8", .open = c.luaopen_utf8 },
    .{ .name = "debug", .open = c.luaopen_debug },
};

const natives = [_]struct { name: [*:0]const u8, f: lua.CFn }{
    .{ .name = "write", .f = nativeWrite },
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
    c.lua_setfield(L, c.LUA_REGISTRYINDEX, prelude_key);
    return 0;
}

/// write(stream, ...): io.write's formatting (numbers as liolib prints them).
fn nativeWrite(L: ?*lua.State) callconv(.c) c_int {
    const stream: output.Stream = if (c.luaL_checkinteger(L, 1) == 2) .stderr else .stdout;
    const n = c.lua_gettop(L);
    var i: c_int = 2;
    while (i <= n) : (i += 1) {
        if (c.lua_type(L, i) == c.LUA_TNUMBER) {
            var text: [64]u8 = undefined;
            const len = if (c.lua_isinteger(L, i) != 0)
                ct.snprintf(&text, text.len, c.LUA_INTEGER_FMT, c.lua_tointegerx(L, i, null))
            else
                ct.snprintf(&text, text.len, c.LUA_NUMBER_FMT, c.lua_tonumberx(L, i, null));
            output.write(stream, text[0..@intCast(len)]);
        } else output.write(stream, lua.checkSlice(L, i));
    }
    return 0;
}

/// time([t]): now, or the UTC time described by table t.
fn nativeTime(L: ?*lua.State) callconv(.c) c_int {
    if (c.lua_type(L, 1) <= c.LUA_TNIL) {
        c.lua_pushinteger(L, @intFromFloat(@floor(ffi.now(.wall_seconds))));
        return 1;
    }
    c.luaL_checktype(L, 1, c.LUA_TTABLE);
    var tm: ct.struct_tm = std.mem.zeroes(ct.struct_tm);
    tm.tm_year = field(L, "year", -1, 1900);
    tm.tm_mon = field(L, "month", -1, 1);
    tm.tm_mday = field(L, "day", -1, 0);
    tm.tm_hour = field(L, "hour", 12, 0);
    tm.tm_min = field(L, "min", 0, 0);
    tm.tm_sec = field(L, "sec", 0, 0);
    c.lua_pushinteger(L, ct.timegm(&tm));
    return 1;
}

fn field(L: ?*lua.State, key: [*:0]const u8, default: c_int, delta: c_int) c_int {
    const t = c.lua_getfield(L, 1, key);
    defer lua.pop(L, 1);
    var isnum: c_int = 0;
    const v = c.lua_tointegerx(L, -1, &isnum);
    if (isnum == 0) {
        if (t != c.LUA_TNIL) _ = c.luaL_error(L, "field '%s' is not an integer", key);
        if (default < 0) _ = c.luaL_error(L, "field '%s' missing in date table", key);
        return default;
    }
    if (v - delta < std.math.minInt(c_int) or v - delta > std.math.maxInt(c_int))
        _ = c.luaL_error(L, "field '%s' is out-of-bound", key);
    return @intCast(v - delta);
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

/// date(format, time): strftime in UTC; the sandbox has no time zone.
fn nativeDate(L: ?*lua.State) callconv(.c) c_int {
    const format = c.luaL_optlstring(L, 1, "%c", null);
    const when: ct.time_t = if (c.lua_type(L, 2) <= c.LUA_TNIL)
        @intFromFloat(@floor(ffi.now(.wall_seconds)))
    else
        c.luaL_checkinteger(L, 2);
    var tm: ct.struct_tm = undefined;
    if (ct.gmtime_r(&when, &tm) == null)
        _ = c.luaL_error(L, "date result cannot be represented");
    var f = std.mem.span(format);
    if (f.len > 0 and f[0] == '!') f = f[1..];
    if (std.mem.startsWith(u8, f, "*t")) {
        c.lua_createtable(L, 0, 9);
        const fields = .{ .{ "year", tm.tm_year + 1900 }, .{ "month", tm.tm_mon + 1 }, .{ "day", tm.tm_mday }, .{ "hour", tm.tm_hour }, .{ "min", tm.tm_min }, .{ "sec", tm.tm_sec }, .{ "yday", tm.tm_yday + 1 }, .{ "wday", tm.tm_wday + 1 } };
        inline for (fields) |kv| {
            c.lua_pushinteger(L, kv[1]);
            c.lua_setfield(L, -2, kv[0]);
        }
        c.lua_pushboolean(L, 0);
        c.lua_setfield(L, -2, "isdst");
        return 1;
    }
    var fmt_z: [256]u8 = undefined;
    if (f.len >= fmt_z.len) _ = c.luaL_error(L, "date format too long");
    @memcpy(fmt_z[0..f.len], f);
    fmt_z[f.len] = 0;
    var text: [1024]u8 = undefined;
    const n = ct.strftime(&text, text.len, &fmt_z, &tm);
    if (n == 0 and f.len > 0) _ = c.luaL_error(L, "invalid or too long date format '%s'", format);
    _ = lua.pushSlice(L, text[0..n]);
    return 1;
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
