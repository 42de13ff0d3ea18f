//! The module's exports: the whole ABI seen from the host, and nothing else.
//! docs/ABI.md describes every export, import, status and byte layout;
//! lua_wasm_kernel/abi.py is the Python mirror. Keep all three in step.
const std = @import("std");

/// Panics trap (the host then rebuilds the instance). Zig's default handler
/// would import about 30 WASI functions in ReleaseSafe and Debug builds;
/// ReleaseFast and ReleaseSmall output is byte-identical either way.
pub const panic = std.debug.no_panic;
const limits = @import("limits.zig");
const lua = @import("lua.zig");
const c = lua.c;
const state = @import("state.zig");
const output = @import("output.zig");
const eval = @import("eval.zig");
const interrupt = @import("interrupt.zig");
const crossing = @import("crossing.zig");
const Status = @import("error.zig").Status;

/// Where the host wrote the pending input (lw_input_reserve) and its size:
/// always a heap block of its own, never the IO buffer, because the cell is
/// parsed while finalizers run (Lua's lexer can step the GC) and their output
/// fills the IO buffer.
var input_ptr: ?[*]u8 = null;
var input_len: u32 = 0;
/// True while lw_eval runs: the input, the reply and the Lua stack are in use,
/// so a host function that calls back into the module is refused.
var eval_running = false;
var interrupt_layout: interrupt.Layout = undefined;

export fn lw_abi_version() u32 {
    return limits.abi_version;
}

export fn lw_io_buffer() u32 {
    return @intCast(@intFromPtr(output.io_buffer.ptr));
}

export fn lw_io_buffer_size() u32 {
    return limits.io_buffer_size_bytes;
}

/// Creates the persistent lua_State; 0 on success, 3 when out of memory.
export fn lw_init() i32 {
    if (state.L != null) return @intFromEnum(Status.bad_input);
    // src/lua_c.zig's hand-written C API must match the headers it was built with.
    if (c.layoutMismatch() != null) return @intFromEnum(Status.bad_input);
    if (!state.initWasm()) return @intFromEnum(Status.out_of_memory);
    interrupt_layout = interrupt.layout();
    return @intFromEnum(Status.ok);
}

/// Space for `len` bytes of input, a heap block that only lw_eval reads.
/// Returns its address, or 0 when memory is short or an eval is running.
export fn lw_input_reserve(len: u32) u32 {
    if (state.L == null or eval_running) return 0;
    releaseInput();
    const p = crossing.alloc(state.L, len) orelse return 0;
    input_ptr = p;
    input_len = len;
    return @intCast(@intFromPtr(p));
}

/// Runs the input as a cell: the first `name_len` bytes are the chunk name,
/// the next `code_len` the code. Returns a status; the reply follows.
export fn lw_eval(name_len: u32, code_len: u32) i32 {
    if (state.L == null or eval_running) return @intFromEnum(Status.bad_input);
    const ptr = input_ptr orelse return @intFromEnum(Status.bad_input);
    if (name_len > limits.chunk_name_size_max_bytes or @as(u64, name_len) + code_len != input_len)
        return @intFromEnum(Status.bad_input);
    // The input block stays ours until the eval returns: finalizers that run
    // while the cell is parsed write their output to the IO buffer, not here.
    eval_running = true;
    const status = eval.eval(ptr[0..name_len], ptr[name_len..][0..code_len]);
    eval_running = false;
    releaseInput();
    return @intFromEnum(status);
}

fn releaseInput() void {
    if (input_ptr) |p| crossing.free(p);
    input_ptr = null;
    input_len = 0;
}

export fn lw_reply_ptr() u32 {
    return @intCast(@intFromPtr(eval.replyBytes().ptr));
}

export fn lw_reply_len() u32 {
    return @intCast(eval.replyBytes().len);
}

export fn lw_memory_used() u32 {
    return state.heap.used_bytes;
}

export fn lw_memory_peak() u32 {
    return state.heap.peak_bytes;
}

/// The cap: total linear memory, fixed for the instance's lifetime.
export fn lw_memory_limit() u32 {
    return state.memory_size_bytes;
}

export fn lw_memory_heap_capacity() u32 {
    return state.heap.capacity();
}

export fn lw_lua_count() u32 {
    return state.luaCountBytes();
}

/// 0: full collection; 1: one incremental step (returns 1 if a cycle ended).
/// -1 before lw_init and while an eval runs (a host function must not run
/// finalizers under it).
export fn lw_gc(op: u32) i32 {
    if (state.L == null or eval_running) return -1;
    return switch (op) {
        0 => c.lua_gc(state.L, c.LUA_GCCOLLECT),
        1 => c.lua_gc(state.L, c.LUA_GCSTEP, @as(c_int, 0)),
        else => -1,
    };
}

/// Address of where the last failed allocation happened (oom.Where).
export fn lw_oom_where() u32 {
    return @intCast(@intFromPtr(&@import("oom.zig").where));
}

/// Address of the interrupt layout (interrupt.Layout, fourteen u32 words).
export fn lw_interrupt_layout() u32 {
    return @intCast(@intFromPtr(&interrupt_layout));
}
