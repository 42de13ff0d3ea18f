//! The `wasm` library: the VM's memory and collector for users
//! (`wasm.memory`, `wasm.gc`), and whole-VM snapshots, which the host takes
//! and restores between cells (`wasm.snapshot`, `wasm.restore`,
//! `wasm.snapshots`; lua_wasm_kernel/snapshot.py). docs/LUA_API.md, "wasm".
const lua = @import("lua.zig");
const c = lua.c;
const state = @import("state.zig");
const hostcall = @import("hostcall.zig");

/// Installs the global `wasm` (also `package.loaded.wasm`): light C functions only.
pub fn open(L: ?*lua.State) void {
    const functions = [_]struct { name: [*:0]const u8, f: lua.CFn }{
        .{ .name = "memory", .f = memory },
        .{ .name = "gc", .f = gc },
        .{ .name = "snapshot", .f = snapshot },
        .{ .name = "restore", .f = restore },
        .{ .name = "snapshots", .f = snapshots },
    };
    c.lua_createtable(L, 0, functions.len);
    for (functions) |f| {
        lua.pushCFunction(L, f.f);
        c.lua_setfield(L, -2, f.name);
    }
    _ = c.luaL_getsubtable(L, c.LUA_REGISTRYINDEX, c.LUA_LOADED_TABLE);
    c.lua_pushvalue(L, -2);
    c.lua_setfield(L, -2, "wasm");
    lua.pop(L, 1);
    c.lua_setglobal(L, "wasm");
}

/// wasm.memory() -> {used, peak, limit, heap, lua}, in bytes: the heap in use
/// and its highest mark (block headers included), the linear memory (the
/// cap), what the heap can hand out, and what Lua counts as its own.
fn memory(L: ?*lua.State) callconv(.c) c_int {
    const fields = .{
        .{ "used", state.heap.used_bytes },
        .{ "peak", state.heap.peak_bytes },
        .{ "limit", state.memory_size_bytes },
        .{ "heap", state.heap.capacity() },
        .{ "lua", state.luaCountBytes() },
    };
    c.lua_createtable(L, 0, fields.len);
    inline for (fields) |f| {
        c.lua_pushinteger(L, f[1]);
        c.lua_setfield(L, -2, f[0]);
    }
    return 1;
}

/// wasm.gc() -> bytes freed, bytes of heap in use after: a full collection.
fn gc(L: ?*lua.State) callconv(.c) c_int {
    const before = state.heap.used_bytes;
    _ = c.lua_gc(L, c.LUA_GCCOLLECT);
    const after = state.heap.used_bytes;
    c.lua_pushinteger(L, if (before > after) before - after else 0);
    c.lua_pushinteger(L, after);
    return 2;
}

/// wasm.snapshot(name): the host saves the whole VM when the cell ends.
fn snapshot(L: ?*lua.State) callconv(.c) c_int {
    return named(L, "lua_wasm.snapshot", "wasm.snapshot");
}

/// wasm.restore(name): the host restores the snapshot when the cell ends.
fn restore(L: ?*lua.State) callconv(.c) c_int {
    return named(L, "lua_wasm.restore", "wasm.restore");
}

/// wasm.snapshots() -> the names of the saved snapshots, sorted.
fn snapshots(L: ?*lua.State) callconv(.c) c_int {
    c.lua_settop(L, 0);
    return call(L, "lua_wasm.snapshots", "wasm.snapshots");
}

fn named(L: ?*lua.State, comptime name: [:0]const u8, comptime where: [:0]const u8) c_int {
    _ = c.luaL_checklstring(L, 1, null);
    c.lua_settop(L, 1);
    return call(L, name, where);
}

/// Calls the host function with the arguments on the stack; returns its reply.
fn call(L: ?*lua.State, comptime name: [:0]const u8, comptime where: [:0]const u8) c_int {
    lua.pushCFunction(L, hostcall.hostCall);
    lua.insert(L, 1);
    _ = lua.pushSlice(L, name);
    lua.insert(L, 2);
    lua.call(L, c.lua_gettop(L) - 1, 2);
    if (c.lua_toboolean(L, -2) == 0)
        _ = c.luaL_error(L, where ++ ": %s", c.lua_tolstring(L, -1, null));
    return 1;
}

// ---------------------------------------------------------------- tests

const std = @import("std");
const harness = @import("test_harness.zig");
const ffi = @import("ffi.zig");

test "wasm.memory and wasm.gc report the heap" {
    const L = harness.engine();
    try harness.run(L,
        \\local m = wasm.memory()
        \\assert(m.used > 0 and m.peak >= m.used and m.heap > m.used and m.limit == 0)
        \\assert(m.lua > 0 and m.lua < m.used)
        \\garbage = {}
        \\for i = 1, 1000 do garbage[i] = {i} end
        \\local before = wasm.memory().used
        \\garbage = nil
        \\local freed, after = wasm.gc()
        \\assert(freed > 16000 and after == wasm.memory().used and after < before, freed)
        \\assert(select(1, wasm.gc()) >= 0)
    );
    try std.testing.expectEqual(state.heap.capacity(), state.heap.end);
}

test "wasm.snapshot, restore and snapshots are host calls" {
    const L = harness.engine();
    ffi.native.host_reply = &.{0x01, 1}; // true
    try harness.run(L, "assert(wasm.snapshot('before') == true)");
    try std.testing.expectEqualStrings("lua_wasm.snapshot", ffi.native.host_last_name[0..ffi.native.host_last_name_len]);
    try std.testing.expectEqualSlices(u8, &.{ 1, 0, 0, 0, 0x04, 6, 0, 0, 0, 'b', 'e', 'f', 'o', 'r', 'e' }, ffi.native.host_last_args[0..ffi.native.host_last_args_len]);
    try harness.run(L, "assert(wasm.restore('before', 'ignored') == true)");
    try std.testing.expectEqualStrings("lua_wasm.restore", ffi.native.host_last_name[0..ffi.native.host_last_name_len]);
    try std.testing.expectEqual(@as(usize, 15), ffi.native.host_last_args_len);
    // A sequence of names: {"a"}.
    ffi.native.host_reply = &.{ 0x05, 1, 0, 0, 0, 0x02, 1, 0, 0, 0, 0, 0, 0, 0, 0x04, 1, 0, 0, 0, 'a' };
    try harness.run(L, "local s = wasm.snapshots(1, 2); assert(#s == 1 and s[1] == 'a')");
    try std.testing.expectEqualStrings("lua_wasm.snapshots", ffi.native.host_last_name[0..ffi.native.host_last_name_len]);
    try std.testing.expectEqualSlices(u8, &.{ 0, 0, 0, 0 }, ffi.native.host_last_args[0..ffi.native.host_last_args_len]);
    ffi.native.host_reply = "no snapshot named 'x'";
    ffi.native.host_reply_is_error = true;
    try harness.run(L,
        \\local ok, msg = pcall(wasm.restore, "x")
        \\assert(not ok and msg == "wasm.restore: no snapshot named 'x'", msg)
        \\assert(not pcall(wasm.snapshot))
    );
}
