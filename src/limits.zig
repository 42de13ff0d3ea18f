//! Every limit of the engine, in one place, with its unit in the name.
//! The module exports them all (lw_limits, below); the Python mirror is
//! `lua_wasm_kernel/abi.py`, which tests/test_module.py checks against the
//! built module. `docs/ABI.md` documents both.
//! Lua's own stack limit, LUAI_MAXSTACK, is a C macro: src/lua_user.h owns it.
const builtin = @import("builtin");

/// Version of the host ABI; bumped whenever an export, import or layout changes.
pub const abi_version: u32 = 8;

/// The IO buffer: the output ring (src/output.zig); cell input gets a heap block.
pub const io_buffer_size_bytes: u32 = 64 * 1024;

/// The shadow (C) stack, placed first in memory so an overflow traps.
/// cstack.lua peaks at about 185 KB; 128 KB was too small.
pub const stack_size_bytes: u32 = 256 * 1024;

/// Wasm page size.
pub const wasm_page_size_bytes: u32 = 64 * 1024;

/// Serialization of tables by value (docs/FORMAT.md): nesting depth, which
/// every encoder and decoder on both sides enforces, and total items, past
/// which the engine's encoder truncates.
pub const serialize_depth_max: u32 = 64;
pub const serialize_items_max: u32 = 1_000_000;

/// Longest name of a host function (src/hostcall.zig).
pub const host_call_name_size_max_bytes: u32 = 256;

/// Longest chunk name accepted from the host.
pub const chunk_name_size_max_bytes: u32 = 256;

/// Longest name of an external table (src/ext.zig).
pub const ext_table_name_size_max_bytes: u32 = 256;

/// The read-ahead (and write-behind) buffer of an open file (src/files.zig).
pub const file_buffer_size_bytes: u32 = 16 * 1024;

/// Longest name os.tmpname returns (src/files.zig).
pub const file_name_size_max_bytes: u32 = 256;

// ---------------------------------------------------------------- export

/// lw_limits() -> the address of a u32 count, then for each `pub const` u32
/// above, in order: the address and length of its name, and its value.
const Entry = extern struct { name_ptr: u32, name_len: u32, value: u32 };

const names = blk: {
    var list: []const []const u8 = &.{};
    for (@typeInfo(@This()).@"struct".decl_names) |name| {
        if (@TypeOf(@field(@This(), name)) == u32) list = list ++ .{name};
    }
    break :blk list;
};

var table: extern struct { count: u32, entries: [names.len]Entry } = undefined;

fn lwLimits() callconv(.c) u32 {
    table.count = names.len;
    inline for (names, 0..) |name, i| {
        table.entries[i] = .{
            .name_ptr = @intCast(@intFromPtr(name.ptr)),
            .name_len = name.len,
            .value = @field(@This(), name),
        };
    }
    return @intCast(@intFromPtr(&table));
}

comptime {
    if (builtin.cpu.arch.isWasm()) @export(&lwLimits, .{ .name = "lw_limits" });
}

test "lw_limits lists every u32 limit by name and value" {
    const std = @import("std");
    const t: *const @TypeOf(table) = @ptrFromInt(lwLimits());
    try std.testing.expectEqual(@as(u32, names.len), t.count);
    var seen: u32 = 0;
    for (t.entries[0..t.count]) |e| {
        const name = @as([*]const u8, @ptrFromInt(e.name_ptr))[0..e.name_len];
        if (std.mem.eql(u8, name, "abi_version")) {
            try std.testing.expectEqual(abi_version, e.value);
            seen += 1;
        }
        if (std.mem.eql(u8, name, "io_buffer_size_bytes")) {
            try std.testing.expectEqual(io_buffer_size_bytes, e.value);
            seen += 1;
        }
    }
    try std.testing.expectEqual(@as(u32, 2), seen);
}
