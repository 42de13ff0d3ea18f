//! Memory for crossings into the host (host calls, external tables), made so
//! that a crossing can start from any point where Lua runs a finalizer:
//! - what one crossing sends and receives is owned by a Lua userdata on its
//!   own C frame (a Box), never by a module-level buffer, so a nested
//!   crossing gets its own and an error anywhere frees it (the Box's __gc);
//! - blocks come straight from the heap, with no GC step, so no finalizer
//!   (no Lua code at all) runs between the host's answer and its take.
const std = @import("std");
const lua = @import("lua.zig");
const c = lua.c;
const state = @import("state.zig");
const Buffer = @import("reply.zig").Buffer;
const Tlsf = @import("allocator.zig").Tlsf;

/// Registry key of the Boxes' metatable.
const metatable_name = "lua_wasm.crossing";

/// The heap blocks come from: the state's, unless a test binds its own.
var bound_heap: ?*Tlsf = null;

pub fn useHeap(h: *Tlsf) void {
    bound_heap = h;
}

fn heap() *Tlsf {
    return bound_heap orelse &state.heap;
}

/// lgc.c: a full collection; an emergency one runs no finalizers and raises
/// nothing. Lua's allocator runs it when an allocation fails anywhere our C
/// functions run (inside finalizers too, and while the state closes); its
/// two exceptions (a state still being built, a GC step's own work) never
/// call into our code, so calling it here is what Lua would do at this point.
extern fn luaC_fullgc(L: ?*lua.State, isemergency: c_int) void;

/// `len` bytes from the heap, with an emergency collection when it is short
/// (as Lua's own allocator does): no finalizer runs and nothing is raised.
pub fn alloc(L: ?*lua.State, len: u32) ?[*]u8 {
    const size = @max(len, 1);
    if (heap().alloc(size)) |p| return p;
    if (L != null) luaC_fullgc(L, 1);
    return heap().alloc(size);
}

pub fn free(p: [*]u8) void {
    heap().free(p);
}

/// What one crossing owns: the bytes it sends (`out`) and a block for the
/// host's reply (`in`). Lives in a userdata; freed by `release` or its __gc.
pub const Box = struct {
    out: Buffer,
    in: ?[*]u8 = null,

    /// A block of `len` bytes for the reply (see `alloc`); null when short.
    pub fn reserve(self: *Box, L: ?*lua.State, len: u32) ?[]u8 {
        self.freeIn();
        const p = alloc(L, len) orelse return null;
        self.in = p;
        return p[0..len];
    }

    /// Gives both blocks back; the Box stays valid (and empty).
    pub fn release(self: *Box) void {
        self.freeIn();
        self.out.reset();
        if (self.out.ptr) |p| heap().free(p);
        self.out.ptr = null;
        self.out.cap = 0;
    }

    fn freeIn(self: *Box) void {
        if (self.in) |p| heap().free(p);
        self.in = null;
    }
};

/// Pushes a new, empty Box (a userdata with a __gc that releases it).
/// Allocates through Lua, so finalizers may run here: call it before the crossing.
pub fn push(L: ?*lua.State) *Box {
    const box: *Box = @ptrCast(@alignCast(c.lua_newuserdatauv(L, @sizeOf(Box), 0).?));
    box.* = .{ .out = .{ .heap = heap() } };
    if (c.luaL_newmetatable(L, metatable_name) != 0) {
        lua.pushCFunction(L, collect);
        c.lua_setfield(L, -2, "__gc");
    }
    _ = c.lua_setmetatable(L, -2);
    return box;
}

fn collect(L: ?*lua.State) callconv(.c) c_int {
    const box: *Box = @ptrCast(@alignCast(c.lua_touserdata(L, 1).?));
    box.release();
    return 0;
}

// ---------------------------------------------------------------- tests

const harness = @import("test_harness.zig");

test "a Box's blocks are freed by release, and by __gc after an error" {
    const L = harness.newState();
    defer c.lua_close(L);
    useHeap(&harness.heap);
    push(L).release(); // the metatable stays
    lua.pop(L, 1);
    _ = c.lua_gc(L, c.LUA_GCCOLLECT);
    const before = harness.heap.used_bytes;
    const box = push(L);
    try box.out.append("arguments");
    _ = box.reserve(L, 1000).?;
    box.release();
    lua.pop(L, 1);
    _ = c.lua_gc(L, c.LUA_GCCOLLECT);
    try std.testing.expectEqual(before, harness.heap.used_bytes);

    // Left on the stack when an error unwinds: the collector frees the blocks.
    const kept = push(L);
    const hundred: [100]u8 = @splat('x');
    try kept.out.append(&hundred);
    _ = kept.reserve(L, 5000).?;
    lua.pop(L, 1);
    _ = c.lua_gc(L, c.LUA_GCCOLLECT);
    try std.testing.expectEqual(before, harness.heap.used_bytes);
}

test "alloc gives heap blocks back through free, collecting Lua's garbage when short" {
    const L = harness.newState();
    defer c.lua_close(L);
    useHeap(&harness.heap);
    const before = harness.heap.used_bytes;
    const p = alloc(L, 100).?;
    try std.testing.expect(harness.heap.used_bytes > before);
    free(p);
    try std.testing.expectEqual(before, harness.heap.used_bytes);
    // Garbage fills most of the heap: only a collection makes room.
    try harness.run(L, "garbage = {} for i = 1, 4000 do garbage[i] = ('x'):rep(150) .. i end garbage = nil");
    const room = harness.heap.capacity() - harness.heap.used_bytes;
    const big = alloc(L, room + 100_000) orelse return error.TestUnexpectedResult;
    free(big);
    try std.testing.expect(alloc(null, harness.heap.capacity()) == null);
}
