//! The one persistent lua_State and the heap it lives in.
const std = @import("std");
const builtin = @import("builtin");
const lua = @import("lua.zig");
const c = lua.c;
const limits = @import("limits.zig");
const Tlsf = @import("allocator.zig").Tlsf;
const Buffer = @import("reply.zig").Buffer;
const libs = @import("libs.zig");
const interrupt = @import("interrupt.zig");
const warn = @import("warn.zig");
const output = @import("output.zig");
const quarantine = @import("quarantine.zig");
const build_options = @import("build_options");

pub var heap: Tlsf = undefined;
pub var L: ?*lua.State = null;
/// Total bytes of linear memory (the cap the host chose).
pub var memory_size_bytes: u32 = 0;
/// The reply to the last eval (src/reply.zig).
pub var reply: Buffer = undefined;

extern var __heap_base: u8;

/// Lays the heap over [__heap_base, end of memory) and opens the state.
pub fn initWasm() bool {
    const start = @intFromPtr(&__heap_base);
    const end = @wasmMemorySize(0) * limits.wasm_page_size_bytes;
    std.debug.assert(end > start);
    memory_size_bytes = @intCast(end);
    return init(@as([*]u8, @ptrFromInt(start))[0 .. end - start]);
}

pub fn init(region: []u8) bool {
    std.debug.assert(L == null);
    heap = Tlsf.init(region);
    heap.quick = true; // Lua's small blocks skip the free lists (src/allocator.zig)
    quarantine.init(&heap);
    const io = heap.alloc(limits.io_buffer_size_bytes) orelse return false;
    output.init(io[0..limits.io_buffer_size_bytes]);
    reply = .{ .heap = &heap };
    L = c.lua_newstate(luaAlloc, null) orelse return false;
    interrupt.init(L);
    warn.install(L);
    lua.pushCFunction(L, libs.open);
    return lua.pcall(L, 0, 0, 0) == c.LUA_OK;
}

/// Lua's allocator: the TLSF heap. Shrinking never fails, as Lua requires.
/// Frees the interrupt watcher may still write into wait in the quarantine.
fn luaAlloc(_: ?*anyopaque, ptr: ?*anyopaque, osize: usize, nsize: usize) callconv(.c) ?*anyopaque {
    if (nsize == 0) {
        if (ptr) |p| {
            if (quarantine.watches(osize)) quarantine.hold(@ptrCast(p), osize) else heap.free(@ptrCast(p));
        }
        return null;
    }
    if (allocate(ptr, nsize)) |q| return q;
    if (quarantine.held() != 0) {
        output.flush(); // releases the quarantine; then try once more
        if (allocate(ptr, nsize)) |q| return q;
    }
    @import("oom.zig").record();
    return null;
}

fn allocate(ptr: ?*anyopaque, nsize: usize) ?*anyopaque {
    if (ptr) |p| return @ptrCast(heap.realloc(@ptrCast(p), nsize));
    return @ptrCast(heap.alloc(nsize));
}

/// The check build (`-Dheap-check=true`): walks the whole heap and traps
/// on any broken invariant. Called as each eval starts, so after every eval.
pub fn checkHeap() void {
    if (!build_options.heap_check) return;
    heap.check() catch @trap();
}

/// Bytes Lua itself counts as in use.
pub fn luaCountBytes() u32 {
    const kb: u32 = @intCast(c.lua_gc(L, c.LUA_GCCOUNT));
    const b: u32 = @intCast(c.lua_gc(L, c.LUA_GCCOUNTB));
    return kb * 1024 + b;
}
