//! Lua's C API (lua.h, lauxlib.h, lualib.h) and the few libc time and stdio
//! names our Zig uses, declared by hand: the product build runs no
//! translate-c. Every layout and constant here is checked against the real
//! headers by src/lua_c_layout.c (at lw_init and in the unit tests), and
//! every declaration against translate-c's view of src/lua_api.h by
//! src/lua_c_check.zig (unit tests only). Add a name here when Zig needs it.
const builtin = @import("builtin");

/// wasi-libc's (musl's) time types, or the host's C library's (unit tests).
const wasi = builtin.os.tag == .wasi;

// -- Types (lua.h, luaconf.h) --

pub const lua_State = opaque {};
pub const CallInfo = opaque {};
pub const lua_Number = f64;
pub const lua_Integer = c_longlong;
pub const lua_KContext = isize;
pub const lua_CFunction = ?*const fn (L: ?*lua_State) callconv(.c) c_int;
pub const lua_KFunction = ?*const fn (L: ?*lua_State, status: c_int, ctx: lua_KContext) callconv(.c) c_int;
pub const lua_Reader = ?*const fn (L: ?*lua_State, ud: ?*anyopaque, sz: [*c]usize) callconv(.c) [*c]const u8;
pub const lua_Alloc = ?*const fn (ud: ?*anyopaque, ptr: ?*anyopaque, osize: usize, nsize: usize) callconv(.c) ?*anyopaque;
pub const lua_WarnFunction = ?*const fn (ud: ?*anyopaque, msg: [*c]const u8, tocont: c_int) callconv(.c) void;
pub const lua_Hook = ?*const fn (L: ?*lua_State, ar: [*c]lua_Debug) callconv(.c) void;

pub const lua_Debug = extern struct {
    event: c_int = 0,
    name: [*c]const u8 = null,
    namewhat: [*c]const u8 = null,
    what: [*c]const u8 = null,
    source: [*c]const u8 = null,
    srclen: usize = 0,
    currentline: c_int = 0,
    linedefined: c_int = 0,
    lastlinedefined: c_int = 0,
    nups: u8 = 0,
    nparams: u8 = 0,
    isvararg: u8 = 0,
    istailcall: u8 = 0,
    ftransfer: c_ushort = 0,
    ntransfer: c_ushort = 0,
    short_src: [LUA_IDSIZE]u8 = @splat(0),
    i_ci: ?*CallInfo = null,
};

/// luaconf.h's LUAL_BUFFERSIZE.
pub const LUAL_BUFFERSIZE = 16 * @sizeOf(?*anyopaque) * @sizeOf(lua_Number);

pub const luaL_Buffer = extern struct {
    b: [*c]u8 = null,
    size: usize = 0,
    n: usize = 0,
    L: ?*lua_State = null,
    init: extern union {
        // LUAI_MAXALIGN, then the initial buffer.
        n: lua_Number,
        u: f64,
        s: ?*anyopaque,
        i: lua_Integer,
        l: c_long,
        b: [LUAL_BUFFERSIZE]u8,
    } = .{ .b = @splat(0) },
};

// -- Constants (lua.h, luaconf.h, lauxlib.h) --

/// src/lua_user.h owns it (a C macro); the layout check holds this copy to it.
pub const LUAI_MAXSTACK: c_int = 20_000;
pub const LUA_REGISTRYINDEX: c_int = -LUAI_MAXSTACK - 1000;
pub const LUA_IDSIZE = 60;
pub const LUA_MULTRET: c_int = -1;
pub const LUA_LOADED_TABLE = "_LOADED";

pub const LUA_OK: c_int = 0;
pub const LUA_ERRRUN: c_int = 2;
pub const LUA_ERRSYNTAX: c_int = 3;
pub const LUA_ERRMEM: c_int = 4;
pub const LUA_ERRERR: c_int = 5;

pub const LUA_TNIL: c_int = 0;
pub const LUA_TBOOLEAN: c_int = 1;
pub const LUA_TLIGHTUSERDATA: c_int = 2;
pub const LUA_TNUMBER: c_int = 3;
pub const LUA_TSTRING: c_int = 4;
pub const LUA_TTABLE: c_int = 5;
pub const LUA_TFUNCTION: c_int = 6;
pub const LUA_TUSERDATA: c_int = 7;

pub const LUA_GCCOLLECT: c_int = 2;
pub const LUA_GCCOUNT: c_int = 3;
pub const LUA_GCCOUNTB: c_int = 4;
pub const LUA_GCSTEP: c_int = 5;

pub const LUA_HOOKCOUNT: c_int = 3;
pub const LUA_MASKCOUNT: c_int = 1 << LUA_HOOKCOUNT;

// -- State, stack and values (lua.h) --

pub extern fn lua_newstate(f: lua_Alloc, ud: ?*anyopaque) ?*lua_State;
pub extern fn lua_close(L: ?*lua_State) void;
pub extern fn lua_absindex(L: ?*lua_State, idx: c_int) c_int;
pub extern fn lua_gettop(L: ?*lua_State) c_int;
pub extern fn lua_settop(L: ?*lua_State, idx: c_int) void;
pub extern fn lua_pushvalue(L: ?*lua_State, idx: c_int) void;
pub extern fn lua_rotate(L: ?*lua_State, idx: c_int, n: c_int) void;
pub extern fn lua_copy(L: ?*lua_State, fromidx: c_int, toidx: c_int) void;
pub extern fn lua_checkstack(L: ?*lua_State, n: c_int) c_int;

pub extern fn lua_isinteger(L: ?*lua_State, idx: c_int) c_int;
pub extern fn lua_type(L: ?*lua_State, idx: c_int) c_int;
pub extern fn lua_typename(L: ?*lua_State, tp: c_int) [*c]const u8;
pub extern fn lua_tonumberx(L: ?*lua_State, idx: c_int, isnum: [*c]c_int) lua_Number;
pub extern fn lua_tointegerx(L: ?*lua_State, idx: c_int, isnum: [*c]c_int) lua_Integer;
pub extern fn lua_toboolean(L: ?*lua_State, idx: c_int) c_int;
pub extern fn lua_tolstring(L: ?*lua_State, idx: c_int, len: [*c]usize) [*c]const u8;
pub extern fn lua_touserdata(L: ?*lua_State, idx: c_int) ?*anyopaque;
pub extern fn lua_topointer(L: ?*lua_State, idx: c_int) ?*const anyopaque;
pub extern fn lua_rawequal(L: ?*lua_State, idx1: c_int, idx2: c_int) c_int;

pub extern fn lua_pushnil(L: ?*lua_State) void;
pub extern fn lua_pushnumber(L: ?*lua_State, n: lua_Number) void;
pub extern fn lua_pushinteger(L: ?*lua_State, n: lua_Integer) void;
pub extern fn lua_pushlstring(L: ?*lua_State, s: [*c]const u8, len: usize) [*c]const u8;
pub extern fn lua_pushstring(L: ?*lua_State, s: [*c]const u8) [*c]const u8;
pub extern fn lua_pushfstring(L: ?*lua_State, fmt: [*c]const u8, ...) [*c]const u8;
pub extern fn lua_pushcclosure(L: ?*lua_State, @"fn": lua_CFunction, n: c_int) void;
pub extern fn lua_pushboolean(L: ?*lua_State, b: c_int) void;
pub extern fn lua_pushlightuserdata(L: ?*lua_State, p: ?*anyopaque) void;

pub extern fn lua_getglobal(L: ?*lua_State, name: [*c]const u8) c_int;
pub extern fn lua_getfield(L: ?*lua_State, idx: c_int, k: [*c]const u8) c_int;
pub extern fn lua_rawget(L: ?*lua_State, idx: c_int) c_int;
pub extern fn lua_createtable(L: ?*lua_State, narr: c_int, nrec: c_int) void;
pub extern fn lua_newuserdatauv(L: ?*lua_State, sz: usize, nuvalue: c_int) ?*anyopaque;
pub extern fn lua_getmetatable(L: ?*lua_State, objindex: c_int) c_int;
pub extern fn lua_getiuservalue(L: ?*lua_State, idx: c_int, n: c_int) c_int;

pub extern fn lua_setglobal(L: ?*lua_State, name: [*c]const u8) void;
pub extern fn lua_setfield(L: ?*lua_State, idx: c_int, k: [*c]const u8) void;
pub extern fn lua_rawset(L: ?*lua_State, idx: c_int) void;
pub extern fn lua_rawseti(L: ?*lua_State, idx: c_int, n: lua_Integer) void;
pub extern fn lua_setmetatable(L: ?*lua_State, objindex: c_int) c_int;
pub extern fn lua_setiuservalue(L: ?*lua_State, idx: c_int, n: c_int) c_int;

pub extern fn lua_callk(L: ?*lua_State, nargs: c_int, nresults: c_int, ctx: lua_KContext, k: lua_KFunction) void;
pub extern fn lua_pcallk(L: ?*lua_State, nargs: c_int, nresults: c_int, errfunc: c_int, ctx: lua_KContext, k: lua_KFunction) c_int;
pub extern fn lua_load(L: ?*lua_State, reader: lua_Reader, dt: ?*anyopaque, chunkname: [*c]const u8, mode: [*c]const u8) c_int;
pub extern fn lua_resume(L: ?*lua_State, from: ?*lua_State, narg: c_int, nres: [*c]c_int) c_int;
pub extern fn lua_setwarnf(L: ?*lua_State, f: lua_WarnFunction, ud: ?*anyopaque) void;
pub extern fn lua_gc(L: ?*lua_State, what: c_int, ...) c_int;
pub extern fn lua_error(L: ?*lua_State) c_int;
pub extern fn lua_next(L: ?*lua_State, idx: c_int) c_int;
pub extern fn lua_concat(L: ?*lua_State, n: c_int) void;

// -- Debug API (lua.h) --

pub extern fn lua_getstack(L: ?*lua_State, level: c_int, ar: [*c]lua_Debug) c_int;
pub extern fn lua_getinfo(L: ?*lua_State, what: [*c]const u8, ar: [*c]lua_Debug) c_int;
pub extern fn lua_sethook(L: ?*lua_State, func: lua_Hook, mask: c_int, count: c_int) void;
pub extern fn lua_gethook(L: ?*lua_State) lua_Hook;

// -- Auxiliary library (lauxlib.h) --

pub extern fn luaL_getsubtable(L: ?*lua_State, idx: c_int, fname: [*c]const u8) c_int;
pub extern fn luaL_requiref(L: ?*lua_State, modname: [*c]const u8, openf: lua_CFunction, glb: c_int) void;
pub extern fn luaL_newmetatable(L: ?*lua_State, tname: [*c]const u8) c_int;
pub extern fn luaL_checkudata(L: ?*lua_State, ud: c_int, tname: [*c]const u8) ?*anyopaque;
pub extern fn luaL_callmeta(L: ?*lua_State, obj: c_int, e: [*c]const u8) c_int;
pub extern fn luaL_tolstring(L: ?*lua_State, idx: c_int, len: [*c]usize) [*c]const u8;
pub extern fn luaL_argerror(L: ?*lua_State, arg: c_int, extramsg: [*c]const u8) c_int;
pub extern fn luaL_typeerror(L: ?*lua_State, arg: c_int, tname: [*c]const u8) c_int;
pub extern fn luaL_checklstring(L: ?*lua_State, arg: c_int, l: [*c]usize) [*c]const u8;
pub extern fn luaL_optlstring(L: ?*lua_State, arg: c_int, def: [*c]const u8, l: [*c]usize) [*c]const u8;
pub extern fn luaL_checkinteger(L: ?*lua_State, arg: c_int) lua_Integer;
pub extern fn luaL_checktype(L: ?*lua_State, arg: c_int, t: c_int) void;
pub extern fn luaL_checkany(L: ?*lua_State, arg: c_int) void;
pub extern fn luaL_where(L: ?*lua_State, lvl: c_int) void;
pub extern fn luaL_error(L: ?*lua_State, fmt: [*c]const u8, ...) c_int;
pub extern fn luaL_fileresult(L: ?*lua_State, stat: c_int, fname: [*c]const u8) c_int;
pub extern fn luaL_loadbufferx(L: ?*lua_State, buff: [*c]const u8, sz: usize, name: [*c]const u8, mode: [*c]const u8) c_int;
pub extern fn luaL_traceback(L: ?*lua_State, L1: ?*lua_State, msg: [*c]const u8, level: c_int) void;
pub extern fn luaL_buffinit(L: ?*lua_State, B: [*c]luaL_Buffer) void;
pub extern fn luaL_prepbuffsize(B: [*c]luaL_Buffer, sz: usize) [*c]u8;
pub extern fn luaL_pushresult(B: [*c]luaL_Buffer) void;

// -- Standard libraries (lualib.h) --

pub extern fn luaopen_base(L: ?*lua_State) c_int;
pub extern fn luaopen_coroutine(L: ?*lua_State) c_int;
pub extern fn luaopen_table(L: ?*lua_State) c_int;
pub extern fn luaopen_io(L: ?*lua_State) c_int;
pub extern fn luaopen_string(L: ?*lua_State) c_int;
pub extern fn luaopen_utf8(L: ?*lua_State) c_int;
pub extern fn luaopen_math(L: ?*lua_State) c_int;
pub extern fn luaopen_debug(L: ?*lua_State) c_int;
pub extern fn luaopen_package(L: ?*lua_State) c_int;

// -- libc: time.h and stdio.h --

pub const time_t = if (wasi) c_longlong else c_long;
pub const clock_t = if (wasi) c_longlong else c_long;
pub const CLOCKS_PER_SEC: clock_t = if (wasi) 1_000_000_000 else 1_000_000;

/// musl's (wasi-libc's) and glibc's struct tm: the nine C fields, then the
/// offset from UTC and the zone name; wasi-libc adds nanoseconds.
pub const struct_tm = extern struct {
    tm_sec: c_int = 0,
    tm_min: c_int = 0,
    tm_hour: c_int = 0,
    tm_mday: c_int = 0,
    tm_mon: c_int = 0,
    tm_year: c_int = 0,
    tm_wday: c_int = 0,
    tm_yday: c_int = 0,
    tm_isdst: c_int = 0,
    tm_gmtoff: c_long = 0,
    tm_zone: [*c]const u8 = null,
    tm_nsec: if (wasi) c_int else void = if (wasi) 0 else {},
};

pub extern fn gmtime_r(noalias [*c]const time_t, noalias [*c]struct_tm) [*c]struct_tm;
pub extern fn timegm([*c]struct_tm) time_t;
pub extern fn strftime(noalias [*c]u8, usize, noalias [*c]const u8, noalias [*c]const struct_tm) usize;

pub const _IOLBF: c_int = 1;
pub const _IONBF: c_int = 2;
pub const SEEK_SET: c_int = 0;
pub const SEEK_CUR: c_int = 1;

// -- The check against the C headers (src/lua_c_layout.c) --

/// The values of src/lua_c_layout.c's C expressions; in the unit tests,
/// the expressions too (the wasm module carries only the values).
extern const lw_c_fact_values: [fact_count]c_longlong;
extern const lw_c_fact_count: c_int;
extern const lw_c_fact_names: [fact_count][*:0]const u8;

/// Each C expression of src/lua_c_layout.c (same order) and its value here.
const expected = .{
    .{ "sizeof(lua_Debug)", @sizeOf(lua_Debug) },
    .{ "offsetof(lua_Debug, event)", @offsetOf(lua_Debug, "event") },
    .{ "offsetof(lua_Debug, name)", @offsetOf(lua_Debug, "name") },
    .{ "offsetof(lua_Debug, namewhat)", @offsetOf(lua_Debug, "namewhat") },
    .{ "offsetof(lua_Debug, what)", @offsetOf(lua_Debug, "what") },
    .{ "offsetof(lua_Debug, source)", @offsetOf(lua_Debug, "source") },
    .{ "offsetof(lua_Debug, srclen)", @offsetOf(lua_Debug, "srclen") },
    .{ "offsetof(lua_Debug, currentline)", @offsetOf(lua_Debug, "currentline") },
    .{ "offsetof(lua_Debug, linedefined)", @offsetOf(lua_Debug, "linedefined") },
    .{ "offsetof(lua_Debug, lastlinedefined)", @offsetOf(lua_Debug, "lastlinedefined") },
    .{ "offsetof(lua_Debug, nups)", @offsetOf(lua_Debug, "nups") },
    .{ "offsetof(lua_Debug, nparams)", @offsetOf(lua_Debug, "nparams") },
    .{ "offsetof(lua_Debug, isvararg)", @offsetOf(lua_Debug, "isvararg") },
    .{ "offsetof(lua_Debug, istailcall)", @offsetOf(lua_Debug, "istailcall") },
    .{ "offsetof(lua_Debug, ftransfer)", @offsetOf(lua_Debug, "ftransfer") },
    .{ "offsetof(lua_Debug, ntransfer)", @offsetOf(lua_Debug, "ntransfer") },
    .{ "offsetof(lua_Debug, short_src)", @offsetOf(lua_Debug, "short_src") },
    .{ "offsetof(lua_Debug, i_ci)", @offsetOf(lua_Debug, "i_ci") },
    .{ "sizeof(luaL_Buffer)", @sizeOf(luaL_Buffer) },
    .{ "offsetof(luaL_Buffer, b)", @offsetOf(luaL_Buffer, "b") },
    .{ "offsetof(luaL_Buffer, size)", @offsetOf(luaL_Buffer, "size") },
    .{ "offsetof(luaL_Buffer, n)", @offsetOf(luaL_Buffer, "n") },
    .{ "offsetof(luaL_Buffer, L)", @offsetOf(luaL_Buffer, "L") },
    .{ "offsetof(luaL_Buffer, init)", @offsetOf(luaL_Buffer, "init") },
    .{ "LUAL_BUFFERSIZE", LUAL_BUFFERSIZE },
    .{ "sizeof(lua_Number)", @sizeOf(lua_Number) },
    .{ "sizeof(lua_Integer)", @sizeOf(lua_Integer) },
    .{ "sizeof(lua_KContext)", @sizeOf(lua_KContext) },
    .{ "LUAI_MAXSTACK", LUAI_MAXSTACK },
    .{ "LUA_REGISTRYINDEX", LUA_REGISTRYINDEX },
    .{ "LUA_IDSIZE", LUA_IDSIZE },
    .{ "LUA_MULTRET", LUA_MULTRET },
    .{ "LUA_OK", LUA_OK },
    .{ "LUA_ERRRUN", LUA_ERRRUN },
    .{ "LUA_ERRSYNTAX", LUA_ERRSYNTAX },
    .{ "LUA_ERRMEM", LUA_ERRMEM },
    .{ "LUA_ERRERR", LUA_ERRERR },
    .{ "LUA_TNIL", LUA_TNIL },
    .{ "LUA_TBOOLEAN", LUA_TBOOLEAN },
    .{ "LUA_TLIGHTUSERDATA", LUA_TLIGHTUSERDATA },
    .{ "LUA_TNUMBER", LUA_TNUMBER },
    .{ "LUA_TSTRING", LUA_TSTRING },
    .{ "LUA_TTABLE", LUA_TTABLE },
    .{ "LUA_TFUNCTION", LUA_TFUNCTION },
    .{ "LUA_TUSERDATA", LUA_TUSERDATA },
    .{ "LUA_GCCOLLECT", LUA_GCCOLLECT },
    .{ "LUA_GCCOUNT", LUA_GCCOUNT },
    .{ "LUA_GCCOUNTB", LUA_GCCOUNTB },
    .{ "LUA_GCSTEP", LUA_GCSTEP },
    .{ "LUA_HOOKCOUNT", LUA_HOOKCOUNT },
    .{ "LUA_MASKCOUNT", LUA_MASKCOUNT },
    .{ "sizeof(LUA_LOADED_TABLE)", LUA_LOADED_TABLE.len + 1 },
    .{ "LUA_LOADED_TABLE[0]", LUA_LOADED_TABLE[0] },
    .{ "LUA_LOADED_TABLE[1]", LUA_LOADED_TABLE[1] },
    .{ "LUA_LOADED_TABLE[2]", LUA_LOADED_TABLE[2] },
    .{ "LUA_LOADED_TABLE[3]", LUA_LOADED_TABLE[3] },
    .{ "LUA_LOADED_TABLE[4]", LUA_LOADED_TABLE[4] },
    .{ "LUA_LOADED_TABLE[5]", LUA_LOADED_TABLE[5] },
    .{ "LUA_LOADED_TABLE[6]", LUA_LOADED_TABLE[6] },
    .{ "sizeof(time_t)", @sizeOf(time_t) },
    .{ "(time_t)-1 < 0", 1 },
    .{ "sizeof(clock_t)", @sizeOf(clock_t) },
    .{ "(clock_t)-1 < 0", 1 },
    .{ "CLOCKS_PER_SEC", CLOCKS_PER_SEC },
    .{ "sizeof(struct tm)", @sizeOf(struct_tm) },
    .{ "offsetof(struct tm, tm_sec)", @offsetOf(struct_tm, "tm_sec") },
    .{ "offsetof(struct tm, tm_min)", @offsetOf(struct_tm, "tm_min") },
    .{ "offsetof(struct tm, tm_hour)", @offsetOf(struct_tm, "tm_hour") },
    .{ "offsetof(struct tm, tm_mday)", @offsetOf(struct_tm, "tm_mday") },
    .{ "offsetof(struct tm, tm_mon)", @offsetOf(struct_tm, "tm_mon") },
    .{ "offsetof(struct tm, tm_year)", @offsetOf(struct_tm, "tm_year") },
    .{ "offsetof(struct tm, tm_wday)", @offsetOf(struct_tm, "tm_wday") },
    .{ "offsetof(struct tm, tm_yday)", @offsetOf(struct_tm, "tm_yday") },
    .{ "offsetof(struct tm, tm_isdst)", @offsetOf(struct_tm, "tm_isdst") },
    .{ "_IOLBF", _IOLBF },
    .{ "_IONBF", _IONBF },
    .{ "SEEK_SET", SEEK_SET },
    .{ "SEEK_CUR", SEEK_CUR },
};
const fact_count = expected.len;

/// `expected`'s values as data: one loop checks them, not one unrolled
/// compare per fact.
const expected_values: [fact_count]c_longlong = blk: {
    var values: [fact_count]c_longlong = undefined;
    for (expected, 0..) |e, i| values[i] = e[1];
    break :blk values;
};

/// The index of the first fact on which this file and the C headers
/// disagree, or null when all agree. A C table of another length is itself
/// a mismatch (reported as index fact_count).
pub fn layoutMismatch() ?usize {
    if (lw_c_fact_count != fact_count) return fact_count;
    for (lw_c_fact_values, expected_values, 0..) |value, want, i| {
        if (value != want) return i;
    }
    return null;
}

test "src/lua_c.zig's layouts and constants match the C headers" {
    const std = @import("std");
    if (layoutMismatch()) |i| {
        if (i == fact_count) std.debug.print("src/lua_c_layout.c has {d} facts, lua_c.zig {d}\n", .{ lw_c_fact_count, fact_count });
        if (i < fact_count) std.debug.print("{s}: C says {d}, lua_c.zig {d}\n", .{ lw_c_fact_names[i], lw_c_fact_values[i], expected_values[i] });
        return error.LayoutMismatch;
    }
    // The same expressions, in the same order, on both sides.
    inline for (expected, 0..) |e, i| try std.testing.expectEqualStrings(e[0], std.mem.span(lw_c_fact_names[i]));
}
