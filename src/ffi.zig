//! Host functions the module imports, all under `env`. Native test builds
//! get stand-ins so the engine's Zig tests run without a host.
const builtin = @import("builtin");

const is_wasm = builtin.target.cpu.arch.isWasm();

const wasm = struct {
    extern "env" fn lw_host_output(stream: u32, ptr: [*]const u8, len: u32) void;
    extern "env" fn lw_host_now(clock: u32) f64;
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
