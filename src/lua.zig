//! The Lua C API, imported once, plus Zig stand-ins for the API's macros
//! (lua.h defines many calls as macros).
/// Lua's headers (plus the time.h and stdio.h names we use), declared by hand.
pub const c = @import("lua_c.zig");

pub const State = c.lua_State;
pub const CFn = *const fn (?*State) callconv(.c) c_int;

pub fn pop(L: ?*State, n: c_int) void {
    c.lua_settop(L, -n - 1);
}

pub fn pushCFunction(L: ?*State, f: CFn) void {
    c.lua_pushcclosure(L, f, 0);
}

pub fn pcall(L: ?*State, nargs: c_int, nresults: c_int, msgh: c_int) c_int {
    return c.lua_pcallk(L, nargs, nresults, msgh, 0, null);
}

pub fn call(L: ?*State, nargs: c_int, nresults: c_int) void {
    c.lua_callk(L, nargs, nresults, 0, null);
}

pub fn insert(L: ?*State, idx: c_int) void {
    c.lua_rotate(L, idx, 1);
}

pub fn newTable(L: ?*State) void {
    c.lua_createtable(L, 0, 0);
}

pub fn upvalueIndex(i: c_int) c_int {
    return c.LUA_REGISTRYINDEX - i;
}

/// The bytes of the string at `idx`, or null when it is not a string or
/// number (numbers are converted in place, as lua_tolstring does).
pub fn toSlice(L: ?*State, idx: c_int) ?[]const u8 {
    var len: usize = 0;
    const p = c.lua_tolstring(L, idx, &len) orelse return null;
    return p[0..len];
}

/// Pushes `s` and returns a pointer to Lua's NUL-terminated copy.
pub fn pushSlice(L: ?*State, s: []const u8) [*:0]const u8 {
    return @ptrCast(c.lua_pushlstring(L, s.ptr, s.len));
}

pub fn checkSlice(L: ?*State, arg: c_int) []const u8 {
    var len: usize = 0;
    const p = c.luaL_checklstring(L, arg, &len);
    return p[0..len];
}

pub fn typeName(L: ?*State, idx: c_int) [*:0]const u8 {
    return c.lua_typename(L, c.lua_type(L, idx));
}

/// Raises a Lua error with a fixed message (never returns).
pub fn raise(L: ?*State, msg: []const u8) noreturn {
    _ = pushSlice(L, msg);
    _ = c.lua_error(L);
    unreachable;
}

test "upvalueIndex reaches a C closure's upvalues" {
    const std = @import("std");
    const harness = @import("test_harness.zig");
    const L = harness.newState();
    defer c.lua_close(L);
    const second = struct {
        fn f(l: ?*State) callconv(.c) c_int {
            c.lua_pushvalue(l, upvalueIndex(2));
            return 1;
        }
    }.f;
    c.lua_pushinteger(L, 1);
    _ = pushSlice(L, "second");
    c.lua_pushcclosure(L, second, 2);
    call(L, 0, 1);
    try std.testing.expectEqualStrings("second", toSlice(L, -1).?);
}
