//! Host functions the module imports, all under `env`. Native test builds
//! get stand-ins so the engine's Zig tests run without a host.
const std = @import("std");
const builtin = @import("builtin");

const is_wasm = builtin.target.cpu.arch.isWasm();

const wasm = struct {
    extern "env" fn lw_host_output(stream: u32, ptr: [*]const u8, len: u32) void;
    extern "env" fn lw_host_now(clock: u32) f64;
    extern "env" fn lw_host_call(name_ptr: [*]const u8, name_len: u32, args_ptr: [*]const u8, args_len: u32) i32;
    extern "env" fn lw_host_take(dst_ptr: [*]u8, dst_len: u32) u32;
};

/// Stand-ins for native tests: output is collected for assertions.
pub const native = struct {
    pub var captured: [1 << 20]u8 = undefined;
    pub var captured_len: usize = 0;
    pub var flushes: usize = 0;

    fn lw_host_output(stream: u32, ptr: [*]const u8, len: u32) void {
        _ = stream;
        @memcpy(captured[captured_len..][0..len], ptr[0..len]);
        captured_len += len;
        flushes += 1;
    }
    fn lw_host_now(clock: u32) f64 {
        return if (clock == 0) 1.7e9 else 0.5;
    }

    /// Host calls: the test sets the reply; the last name and arguments are kept.
    pub var host_reply: []const u8 = "";
    pub var host_reply_is_error = false;
    pub var host_last_name: [256]u8 = undefined;
    pub var host_last_name_len: usize = 0;
    pub var host_last_args: [4096]u8 = undefined;
    pub var host_last_args_len: usize = 0;
    /// Output flushes seen when the last host call began (output comes first).
    pub var host_flushes_at_call: usize = 0;

    fn lw_host_call(name_ptr: [*]const u8, name_len: u32, args_ptr: [*]const u8, args_len: u32) i32 {
        @memcpy(host_last_name[0..name_len], name_ptr[0..name_len]);
        host_last_name_len = name_len;
        @memcpy(host_last_args[0..args_len], args_ptr[0..args_len]);
        host_last_args_len = args_len;
        host_flushes_at_call = flushes;
        const len: i32 = @intCast(host_reply.len);
        return if (host_reply_is_error) -1 - len else len;
    }
    fn lw_host_take(dst_ptr: [*]u8, dst_len: u32) u32 {
        @memcpy(dst_ptr[0..dst_len], host_reply[0..dst_len]);
        return dst_len;
    }
};

const impl = if (is_wasm) wasm else native;

/// Clocks the host can read (`lw_host_now`).
pub const Clock = enum(u32) { wall_seconds = 0, cpu_seconds = 1 };

/// Hands `bytes` of captured output on `stream` (1 stdout, 2 stderr) to the host.
pub fn output(stream: u32, bytes: []const u8) void {
    if (bytes.len == 0) return;
    impl.lw_host_output(stream, bytes.ptr, @intCast(bytes.len));
}

/// Reads one of the host's clocks, in seconds.
pub fn now(clock: Clock) f64 {
    return impl.lw_host_now(@intFromEnum(clock));
}

/// Calls the host function `name` with serialized `args` (docs/ABI.md,
/// "Host calls"). Returns the reply's length in bytes, or -1 - length when
/// the reply is an error message; `take` then fetches the reply.
pub fn hostCall(name: []const u8, args: []const u8) i32 {
    return impl.lw_host_call(name.ptr, @intCast(name.len), args.ptr, @intCast(args.len));
}

/// Has the host copy its pending reply into `dst`, which must fit it exactly.
pub fn hostTake(dst: []u8) void {
    const copied = impl.lw_host_take(dst.ptr, @intCast(dst.len));
    std.debug.assert(copied == dst.len);
}
