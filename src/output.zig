//! Captured output: `print`, `io.write` and `io.stderr:write` fill the IO
//! buffer; a full buffer, a change of stream or the end of an eval flushes it
//! to the host, so output streams while a cell runs and is never cut.
const std = @import("std");
const assert = std.debug.assert;
const limits = @import("limits.zig");
const ffi = @import("ffi.zig");

pub const Stream = enum(u32) { stdout = 1, stderr = 2 };

/// The one IO buffer: the host writes cell input here, output collects here.
/// It is the heap's first block (state.init), not static data: with an
/// imported memory the linker would write 64 KiB of zeros into the module.
pub var io_buffer: []u8 = &.{};

pub fn init(buffer: []u8) void {
    assert(buffer.len == limits.io_buffer_size_bytes);
    io_buffer = buffer;
    pending_len = 0;
}

var pending_len: u32 = 0;
var pending_stream: Stream = .stdout;

pub fn write(stream: Stream, bytes: []const u8) void {
    if (stream != pending_stream) {
        flush();
        pending_stream = stream;
    }
    if (pending_len + bytes.len > io_buffer.len) flush();
    if (bytes.len > io_buffer.len) {
        ffi.output(@intFromEnum(stream), bytes); // too large to buffer: straight through
        return;
    }
    @memcpy(io_buffer[pending_len..][0..bytes.len], bytes);
    pending_len += @intCast(bytes.len);
    assert(pending_len <= io_buffer.len);
}

/// Hands whatever is pending to the host.
pub fn flush() void {
    assert(pending_len <= io_buffer.len);
    const len = pending_len;
    pending_len = 0; // before the call: the host may re-enter nothing, but be safe
    ffi.output(@intFromEnum(pending_stream), io_buffer[0..len]);
}

pub fn pendingBytes() u32 {
    return pending_len;
}

/// Address of the pending byte count: the host's watcher thread reads it
/// (a racy u32 read) to decide whether to ask the hook for a flush.
pub fn pendingAddr() usize {
    return @intFromPtr(&pending_len);
}

// The C side of Lua (print, warnings) writes through these (see lua_user.h).
export fn lw_write_stdout(s: [*]const u8, len: usize) void {
    write(.stdout, s[0..len]);
}

export fn lw_write_stderr_fmt(fmt: [*:0]const u8, arg: [*:0]const u8) void {
    // lauxlib only ever passes "%s" or "%s\n" formats.
    const f = std.mem.span(fmt);
    const a = std.mem.span(arg);
    write(.stderr, a);
    if (std.mem.endsWith(u8, f, "\n")) write(.stderr, "\n");
}

var test_buffer: [limits.io_buffer_size_bytes]u8 = undefined;

test "output buffers, then flushes in order and in full" {
    init(&test_buffer);
    ffi.native.captured_len = 0;
    var big: [100_000]u8 = undefined;
    for (&big, 0..) |*b, i| b.* = @intCast('a' + i % 26);
    write(.stdout, "hello ");
    try std.testing.expectEqual(@as(usize, 0), ffi.native.captured_len);
    write(.stdout, &big);
    write(.stdout, "!");
    flush();
    const got = ffi.native.captured[0..ffi.native.captured_len];
    try std.testing.expectEqual(@as(usize, 6 + big.len + 1), got.len);
    try std.testing.expectEqualStrings("hello ", got[0..6]);
    try std.testing.expectEqualSlices(u8, &big, got[6 .. 6 + big.len]);
    try std.testing.expectEqual(@as(u8, '!'), got[got.len - 1]);
}

test "a full buffer flushes before overflowing" {
    init(&test_buffer);
    ffi.native.captured_len = 0;
    const line: [1000]u8 = @splat('x');
    for (0..200) |_| write(.stdout, &line);
    try std.testing.expect(ffi.native.captured_len >= 190 * 1000);
    flush();
    try std.testing.expectEqual(@as(usize, 200 * 1000), ffi.native.captured_len);
}
