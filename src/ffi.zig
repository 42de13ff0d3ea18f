//! Host functions the module imports, all under `env`. Native test builds
//! get stand-ins so the engine's Zig tests run without a host.
const std = @import("std");
const builtin = @import("builtin");

const is_wasm = builtin.target.cpu.arch.isWasm();

const wasm = struct {
    extern "env" fn lw_host_output() void;
    extern "env" fn lw_host_now(clock: u32) f64;
    extern "env" fn lw_host_call(name_ptr: [*]const u8, name_len: u32, args_ptr: [*]const u8, args_len: u32) i32;
    extern "env" fn lw_host_take(dst_ptr: [*]u8, dst_len: u32) i32;
    extern "env" fn lw_ext_get(table: u32, key_ptr: [*]const u8, key_len: u32, dst_ptr: [*]u8, dst_cap: u32) i32;
    extern "env" fn lw_ext_set(table: u32, key_ptr: [*]const u8, key_len: u32, value_ptr: [*]const u8, value_len: u32) i32;
    extern "env" fn lw_ext_len(table: u32) i64;
    extern "env" fn lw_ext_next(table: u32, key_ptr: [*]const u8, key_len: u32, dst_ptr: [*]u8, dst_cap: u32) i32;
};

/// Stand-ins for native tests: output is collected for assertions.
pub const native = struct {
    pub var captured: [1 << 20]u8 = undefined;
    pub var captured_len: usize = 0;
    pub var flushes: usize = 0;

    fn lw_host_output() void {
        captured_len += @import("output.zig").consumeInto(captured[captured_len..]);
        flushes += 1;
    }
    fn lw_host_now(clock: u32) f64 {
        return if (clock == 0) 1.7e9 else 0.5;
    }

    /// Host calls: the test sets the reply; the last name and arguments are kept.
    /// Like the real host, a call leaves its reply pending and a take forgets it.
    pub var host_reply: []const u8 = "";
    pub var host_pending: ?[]const u8 = null;
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
        host_pending = host_reply;
        const len: i32 = @intCast(host_reply.len);
        return if (host_reply_is_error) -1 - len else len;
    }
    fn lw_host_take(dst_ptr: [*]u8, dst_len: u32) i32 {
        const reply = host_pending orelse return -1;
        host_pending = null;
        if (reply.len != dst_len) return -1;
        @memcpy(dst_ptr[0..dst_len], reply);
        return 0;
    }

    /// External tables: one small table of fixed slots (src/ext.zig's tests).
    /// Values may exceed the engine's 256-byte scratch, so the second ask is tested.
    const ExtSlot = struct { table: u32 = 0, key: [64]u8 = undefined, key_len: u32 = 0, value: [1024]u8 = undefined, value_len: u32 = 0 };
    pub var ext_slots: [64]ExtSlot = @splat(.{});

    fn extFind(table: u32, key: []const u8) ?*ExtSlot {
        for (&ext_slots) |*s| if (s.value_len > 0 and s.table == table and std.mem.eql(u8, s.key[0..s.key_len], key)) return s;
        return null;
    }
    fn lw_ext_get(table: u32, key_ptr: [*]const u8, key_len: u32, dst_ptr: [*]u8, dst_cap: u32) i32 {
        const s = extFind(table, key_ptr[0..key_len]) orelse return 0;
        if (s.value_len <= dst_cap) @memcpy(dst_ptr[0..s.value_len], s.value[0..s.value_len]);
        return @intCast(s.value_len);
    }
    fn lw_ext_set(table: u32, key_ptr: [*]const u8, key_len: u32, value_ptr: [*]const u8, value_len: u32) i32 {
        const s = extFind(table, key_ptr[0..key_len]) orelse for (&ext_slots) |*free| {
            if (free.value_len == 0) break free;
        } else return -2;
        if (value_len > s.value.len or key_len > s.key.len) return -2;
        s.table = table;
        @memcpy(s.key[0..key_len], key_ptr[0..key_len]);
        s.key_len = key_len;
        @memcpy(s.value[0..value_len], value_ptr[0..value_len]);
        s.value_len = value_len;
        return 0;
    }
    fn lw_ext_len(table: u32) i64 {
        _ = table;
        return -2;
    }
    fn lw_ext_next(table: u32, key_ptr: [*]const u8, key_len: u32, dst_ptr: [*]u8, dst_cap: u32) i32 {
        _ = .{ table, key_ptr, key_len, dst_ptr, dst_cap };
        return -2;
    }
};

const impl = if (is_wasm) wasm else native;

/// Clocks the host can read (`lw_host_now`).
pub const Clock = enum(u32) { wall_seconds = 0, cpu_seconds = 1 };

/// Has the host consume the output ring (src/output.zig), taking its
/// watcher's lock while it does.
pub fn output() void {
    impl.lw_host_output();
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

/// Has the host copy its pending reply into `dst`, which must be its exact
/// size; false when the host refused (no reply pending, another length). The
/// host forgets the reply either way: an empty `dst` just drops it.
pub fn hostTake(dst: []u8) bool {
    return impl.lw_host_take(dst.ptr, @intCast(dst.len)) == 0;
}

/// External tables (src/ext.zig; docs/ABI.md, "External tables"). Results
/// below zero are failures: `ext_no_table`, `ext_invalid_key`, `ext_failed`.
pub const ext_no_table: i32 = -1;
pub const ext_invalid_key: i32 = -3;
pub const ext_failed: i32 = -2;

/// The stored value of `key` into `dst` when it fits; its length (0: absent).
/// A longer value is not written: ask again with room for it.
pub fn extGet(table: u32, key: []const u8, dst: []u8) i32 {
    return impl.lw_ext_get(table, key.ptr, @intCast(key.len), dst.ptr, @intCast(dst.len));
}

/// Stores `value` under `key`; an empty value deletes the key.
pub fn extSet(table: u32, key: []const u8, value: []const u8) i32 {
    return impl.lw_ext_set(table, key.ptr, @intCast(key.len), value.ptr, @intCast(value.len));
}

/// A border of the table's integer keys (what `#` gives).
pub fn extLen(table: u32) i64 {
    return impl.lw_ext_len(table);
}

/// The pair after `key` (empty: the first) as key bytes then value bytes
/// into `dst` when it fits; its length (0: no more pairs). As extGet, a longer
/// pair is not written.
pub fn extNext(table: u32, key: []const u8, dst: []u8) i32 {
    return impl.lw_ext_next(table, key.ptr, @intCast(key.len), dst.ptr, @intCast(dst.len));
}
