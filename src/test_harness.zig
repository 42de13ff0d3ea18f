//! For the engine's native unit tests: a Lua state over a TLSF heap.
const std = @import("std");
const lua = @import("lua.zig");
const c = lua.c;
const Tlsf = @import("allocator.zig").Tlsf;

var region: [1 << 20]u8 align(8) = undefined;
pub var heap: Tlsf = undefined;

fn alloc(_: ?*anyopaque, ptr: ?*anyopaque, _: usize, nsize: usize) callconv(.c) ?*anyopaque {
    if (nsize == 0) {
        if (ptr) |p| heap.free(@ptrCast(p));
        return null;
    }
    if (ptr) |p| return @ptrCast(heap.realloc(@ptrCast(p), nsize));
    return @ptrCast(heap.alloc(nsize));
}

/// Resets the heap and returns a fresh state with base, math and string.
pub fn newState() ?*lua.State {
    heap = Tlsf.init(&region);
    const L = c.lua_newstate(alloc, null);
    c.luaL_requiref(L, "_G", c.luaopen_base, 1);
    c.luaL_requiref(L, "math", c.luaopen_math, 1);
    c.luaL_requiref(L, "string", c.luaopen_string, 1);
    lua.pop(L, 3);
    return L;
}

/// Runs `code` as a chunk; a Lua error is printed and fails the test.
pub fn run(L: ?*lua.State, code: []const u8) !void {
    try std.testing.expectEqual(c.LUA_OK, c.luaL_loadbufferx(L, code.ptr, code.len, "=test", "t"));
    if (lua.pcall(L, 0, 0, 0) != c.LUA_OK) {
        std.debug.print("lua error: {s}\n", .{lua.toSlice(L, -1) orelse "?"});
        return error.LuaError;
    }
}

/// The engine's own state (src/state.zig: every library, the prelude, the
/// output ring, the warning and stop machinery) over a fresh region; the
/// previous one is closed first. The stand-ins of ffi.native start afresh.
var engine_region: [4 << 20]u8 align(8) = undefined;

pub fn engine() ?*lua.State {
    const state = @import("state.zig");
    if (state.L) |L| c.lua_close(L);
    state.L = null;
    @import("ffi.zig").native.reset();
    @import("interrupt.zig").signals.interrupt = 0;
    @import("crossing.zig").useHeap(&state.heap);
    @import("files.zig").useHeap(&state.heap);
    if (!state.init(&engine_region)) @panic("the engine's state did not open");
    return state.L;
}

/// Runs `code` as a chunk that must fail; returns its error message (left
/// on the stack until the next call).
pub fn runError(L: ?*lua.State, code: []const u8) ![]const u8 {
    try std.testing.expectEqual(c.LUA_OK, c.luaL_loadbufferx(L, code.ptr, code.len, "=test", "t"));
    if (lua.pcall(L, 0, 0, 0) == c.LUA_OK) return error.TestExpectedError;
    return lua.toSlice(L, -1) orelse "";
}
