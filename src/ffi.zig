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
    /// The stderr bytes among them, apart.
    pub var captured_err: [1 << 16]u8 = undefined;
    pub var captured_err_len: usize = 0;
    pub var flushes: usize = 0;
    /// Runs as the host takes the output (a test plays the watcher here).
    pub var on_output: ?*const fn () void = null;

    fn lw_host_output() void {
        const ring = @import("output.zig");
        const n = ring.consumeInto(captured[captured_len..]);
        if (ring.ring.stream == @intFromEnum(ring.Stream.stderr)) {
            @memcpy(captured_err[captured_err_len..][0..n], captured[captured_len..][0..n]);
            captured_err_len += n;
        }
        captured_len += n;
        flushes += 1;
        if (on_output) |f| f();
    }

    /// Forgets every stand-in's state (the engine tests start from it).
    pub fn reset() void {
        captured_len = 0;
        captured_err_len = 0;
        on_output = null;
        host_reply = "";
        host_pending = null;
        host_reply_is_error = false;
        host_reply_for = null;
        on_host_call = null;
        host_calls = 0;
        for (&ext_slots) |*s| s.value_len = 0;
        ext_fail = 0;
        files.reset();
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

    /// Host calls made so far.
    pub var host_calls: usize = 0;
    /// When set: the reply to the call `name` (null: `host_reply`).
    pub var host_reply_for: ?*const fn (name: []const u8) ?[]const u8 = null;
    /// Runs inside each host call (a test plays the watcher here).
    pub var on_host_call: ?*const fn () void = null;

    fn lw_host_call(name_ptr: [*]const u8, name_len: u32, args_ptr: [*]const u8, args_len: u32) i32 {
        @memcpy(host_last_name[0..name_len], name_ptr[0..name_len]);
        host_last_name_len = name_len;
        @memcpy(host_last_args[0..args_len], args_ptr[0..args_len]);
        host_last_args_len = args_len;
        host_flushes_at_call = flushes;
        host_calls += 1;
        if (on_host_call) |f| f();
        const reply = if (host_reply_for) |f| f(name_ptr[0..name_len]) orelse host_reply else host_reply;
        host_pending = reply;
        const len: i32 = @intCast(reply.len);
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
    /// When nonzero, what every lw_ext_* returns (a failing host).
    pub var ext_fail: i32 = 0;

    fn lw_ext_get(table: u32, key_ptr: [*]const u8, key_len: u32, dst_ptr: [*]u8, dst_cap: u32) i32 {
        if (ext_fail != 0) return ext_fail;
        const s = extFind(table, key_ptr[0..key_len]) orelse return 0;
        if (s.value_len <= dst_cap) @memcpy(dst_ptr[0..s.value_len], s.value[0..s.value_len]);
        return @intCast(s.value_len);
    }
    fn lw_ext_set(table: u32, key_ptr: [*]const u8, key_len: u32, value_ptr: [*]const u8, value_len: u32) i32 {
        if (ext_fail != 0) return ext_fail;
        if (value_len == 0) { // a delete
            if (extFind(table, key_ptr[0..key_len])) |s| s.value_len = 0;
            return 0;
        }
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
    /// The largest n with the integer keys 1..n all present.
    fn lw_ext_len(table: u32) i64 {
        if (ext_fail != 0) return ext_fail;
        var n: i64 = 0;
        while (true) : (n += 1) {
            var key: [9]u8 = .{0x02} ++ @as([8]u8, @splat(0));
            std.mem.writeInt(i64, key[1..9], n + 1, .little);
            if (extFind(table, &key) == null) return n;
        }
    }
    /// Pairs in slot order; a key not stored is `ext_invalid_key`.
    fn lw_ext_next(table: u32, key_ptr: [*]const u8, key_len: u32, dst_ptr: [*]u8, dst_cap: u32) i32 {
        if (ext_fail != 0) return ext_fail;
        var from: usize = 0;
        if (key_len > 0) {
            const at = extFind(table, key_ptr[0..key_len]) orelse return -3;
            from = (@intFromPtr(at) - @intFromPtr(&ext_slots)) / @sizeOf(ExtSlot) + 1;
        }
        for (ext_slots[from..]) |*s| {
            if (s.value_len == 0 or s.table != table) continue;
            const len = s.key_len + s.value_len;
            if (len <= dst_cap) {
                @memcpy(dst_ptr[0..s.key_len], s.key[0..s.key_len]);
                @memcpy(dst_ptr[s.key_len..len], s.value[0..s.value_len]);
            }
            return @intCast(len);
        }
        return 0;
    }

    /// Files (src/files.zig's imports): a folder of a few in-memory files.
    /// Names starting with "/" are outside the folder: refused (EACCES).
    pub const files = struct {
        const Errno = struct {
            const ENOENT = 2;
            const EBADF = 9;
            const EACCES = 13;
            const EMFILE = 24;
            const ENOSPC = 28;
        };
        pub const Entry = struct { used: bool = false, name: [64]u8 = undefined, name_len: usize = 0, data: [64 * 1024]u8 = undefined, len: usize = 0 };
        pub var entries: [6]Entry = @splat(.{});
        const Handle = struct { entry: ?*Entry = null, pos: usize = 0, anonymous: bool = false };
        var handles: [8]Handle = @splat(.{});
        /// When nonzero, the -errno every read, write, seek, remove, rename and tmpname returns.
        pub var fail_errno: i32 = 0;
        var tmp_count: u32 = 0;

        pub fn reset() void {
            for (&entries) |*e| e.used = false;
            for (&handles) |*h| h.entry = null;
            fail_errno = 0;
        }
        /// The stored bytes of `name` (for assertions).
        pub fn contents(name: []const u8) ?[]const u8 {
            const e = find(name) orelse return null;
            return e.data[0..e.len];
        }
        fn find(name: []const u8) ?*Entry {
            for (&entries) |*e| if (e.used and std.mem.eql(u8, e.name[0..e.name_len], name)) return e;
            return null;
        }
        fn create(name: []const u8) ?*Entry {
            for (&entries) |*e| if (!e.used) {
                e.* = .{ .used = true, .name_len = name.len };
                @memcpy(e.name[0..name.len], name);
                return e;
            };
            return null;
        }
        fn handle(h: u32) ?*Handle {
            if (h == 0 or h > handles.len or handles[h - 1].entry == null) return null;
            return &handles[h - 1];
        }
        pub fn lw_file_open(path_ptr: ?[*]const u8, path_len: u32, mode_ptr: [*]const u8, mode_len: u32) i32 {
            const mode = mode_ptr[0..mode_len];
            const slot = for (&handles, 1..) |*h, i| {
                if (h.entry == null) break .{ h, i };
            } else return -Errno.EMFILE;
            var entry: *Entry = undefined;
            if (path_ptr) |p| {
                const name = p[0..path_len];
                if (name.len == 0 or name[0] == '/' or name.len > 64) return -Errno.EACCES;
                if (find(name)) |e| {
                    entry = e;
                    if (mode[0] == 'w') e.len = 0;
                } else {
                    if (mode[0] == 'r') return -Errno.ENOENT;
                    entry = create(name) orelse return -Errno.ENOSPC;
                }
            } else entry = create("") orelse return -Errno.ENOSPC;
            slot[0].* = .{ .entry = entry, .pos = if (mode[0] == 'a') entry.len else 0, .anonymous = path_ptr == null };
            return @intCast(slot[1]);
        }
        pub fn lw_file_read(h: u32, dst_ptr: [*]u8, dst_cap: u32) i32 {
            if (fail_errno != 0) return -fail_errno;
            const f = handle(h) orelse return -Errno.EBADF;
            const e = f.entry.?;
            const n = @min(dst_cap, e.len -| f.pos);
            @memcpy(dst_ptr[0..n], e.data[f.pos..][0..n]);
            f.pos += n;
            return @intCast(n);
        }
        pub fn lw_file_write(h: u32, src_ptr: [*]const u8, src_len: u32) i32 {
            if (fail_errno != 0) return -fail_errno;
            const f = handle(h) orelse return -Errno.EBADF;
            const e = f.entry.?;
            if (f.pos + src_len > e.data.len) return -Errno.ENOSPC;
            if (f.pos > e.len) @memset(e.data[e.len..f.pos], 0);
            @memcpy(e.data[f.pos..][0..src_len], src_ptr[0..src_len]);
            f.pos += src_len;
            e.len = @max(e.len, f.pos);
            return @intCast(src_len);
        }
        pub fn lw_file_seek(h: u32, offset: i64, whence: u32) i64 {
            if (fail_errno != 0) return -fail_errno;
            const f = handle(h) orelse return -Errno.EBADF;
            const base: i64 = switch (whence) {
                0 => 0,
                1 => @intCast(f.pos),
                else => @intCast(f.entry.?.len),
            };
            if (base + offset < 0) return -22;
            f.pos = @intCast(base + offset);
            return base + offset;
        }
        pub fn lw_file_close(h: u32) i32 {
            const f = handle(h) orelse return -Errno.EBADF;
            if (f.anonymous) f.entry.?.used = false;
            f.entry = null;
            return 0;
        }
        pub fn lw_file_remove(path_ptr: [*]const u8, path_len: u32) i32 {
            if (fail_errno != 0) return -fail_errno;
            const e = find(path_ptr[0..path_len]) orelse return -Errno.ENOENT;
            e.used = false;
            return 0;
        }
        pub fn lw_file_rename(from_ptr: [*]const u8, from_len: u32, to_ptr: [*]const u8, to_len: u32) i32 {
            if (fail_errno != 0) return -fail_errno;
            const e = find(from_ptr[0..from_len]) orelse return -Errno.ENOENT;
            const to = to_ptr[0..to_len];
            if (to.len == 0 or to[0] == '/' or to.len > 64) return -Errno.EACCES;
            if (find(to)) |old| old.used = false;
            @memcpy(e.name[0..to.len], to);
            e.name_len = to.len;
            return 0;
        }
        pub fn lw_file_tmpname(dst_ptr: [*]u8, dst_cap: u32) i32 {
            if (fail_errno != 0) return -fail_errno;
            tmp_count += 1;
            var name: [32]u8 = undefined;
            const s = std.fmt.bufPrint(&name, "lua_tmp{d}", .{tmp_count}) catch unreachable;
            if (s.len > dst_cap) return -36;
            _ = create(s) orelse return -Errno.ENOSPC;
            @memcpy(dst_ptr[0..s.len], s);
            return @intCast(s.len);
        }
    };
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
