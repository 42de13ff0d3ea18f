//! Captured output: `print`, `io.write` and `io.stderr:write` append to a
//! single-producer, single-consumer ring in the IO buffer. The VM writes
//! bytes, then advances `write_index`; the host consumes them, under its
//! watcher's lock, on its watcher thread while a cell computes, or when the
//! VM calls lw_host_output (the ring is full, the stream changes, before a
//! host call, at the end of an eval). Output streams without any Lua hook,
//! so a cell's own debug hooks see what stock Lua gives them.
//! Protocol: docs/ABI.md, "Interrupts and streaming".
const std = @import("std");
const assert = std.debug.assert;
const limits = @import("limits.zig");
const ffi = @import("ffi.zig");
const quarantine = @import("quarantine.zig");

pub const Stream = enum(u32) { stdout = 1, stderr = 2 };

/// The ring's indices count bytes ever written and consumed (mod 2^32);
/// a byte's place is its index modulo the IO buffer's size.
pub const Ring = extern struct {
    /// Written by the VM only, after the bytes it covers.
    write_index: u32 = 0,
    /// Written by the host only, after it copied the bytes out.
    read_index: u32 = 0,
    /// Stream of every byte in [read_index, write_index). The VM changes it
    /// only while the ring is empty, before it writes the new stream's bytes.
    stream: u32 = @intFromEnum(Stream.stdout),
};

pub var ring: Ring = .{};

/// The IO buffer: the ring's bytes. It is the heap's first block
/// (state.init), not static data: with an imported memory the linker would
/// write 64 KiB of zeros into the module.
pub var io_buffer: []u8 = &.{};

pub fn init(buffer: []u8) void {
    assert(buffer.len == limits.io_buffer_size_bytes);
    io_buffer = buffer;
    ring = .{};
}

/// Bytes written and not yet consumed by the host.
pub fn pendingBytes() u32 {
    const read = @atomicLoad(u32, &ring.read_index, .acquire);
    const pending = ring.write_index -% read;
    assert(pending <= io_buffer.len);
    return pending;
}

pub fn write(stream: Stream, bytes: []const u8) void {
    if (@intFromEnum(stream) != ring.stream) {
        if (pendingBytes() > 0) flush();
        @atomicStore(u32, &ring.stream, @intFromEnum(stream), .release);
    }
    var rest = bytes;
    while (rest.len > 0) {
        if (pendingBytes() == io_buffer.len) flush();
        const room = io_buffer.len - pendingBytes();
        if (room == 0) continue; // the host kept the bytes: ask again
        const n: u32 = @intCast(@min(room, rest.len));
        put(rest[0..n]);
        rest = rest[n..];
    }
}

/// Copies bytes that fit into the ring, then publishes them.
fn put(bytes: []const u8) void {
    const at = ring.write_index % io_buffer.len;
    const first = @min(bytes.len, io_buffer.len - at);
    @memcpy(io_buffer[at..][0..first], bytes[0..first]);
    @memcpy(io_buffer[0 .. bytes.len - first], bytes[first..]);
    @atomicStore(u32, &ring.write_index, ring.write_index +% @as(u32, @intCast(bytes.len)), .release);
}

/// Has the host consume the ring now. The call also synchronizes with the
/// host's watcher (it takes the watcher's lock), so the frees it held back
/// can be released (src/quarantine.zig).
pub fn flush() void {
    ffi.output();
    quarantine.synchronized();
}

/// The host's side, for native tests: consumes the ring into `out`.
pub fn consumeInto(out: []u8) usize {
    const pending = pendingBytes();
    var i: u32 = 0;
    while (i < pending) : (i += 1) out[i] = io_buffer[(ring.read_index +% i) % io_buffer.len];
    @atomicStore(u32, &ring.read_index, ring.read_index +% pending, .release);
    return pending;
}

/// Address of the ring: the host's watcher thread reads it while the VM runs.
pub fn ringAddr() usize {
    return @intFromPtr(&ring);
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

test "a full ring flushes before overflowing, and wraps around" {
    init(&test_buffer);
    ffi.native.captured_len = 0;
    var line: [1000]u8 = undefined;
    for (0..200) |i| {
        @memset(&line, @intCast('a' + i % 26));
        write(.stdout, &line);
    }
    try std.testing.expect(ffi.native.captured_len >= 190 * 1000);
    flush();
    try std.testing.expectEqual(@as(usize, 200 * 1000), ffi.native.captured_len);
    for (0..200) |i| try std.testing.expectEqual(@as(u8, @intCast('a' + i % 26)), ffi.native.captured[i * 1000 + 999]);
}

test "a change of stream hands the other stream's bytes over first" {
    init(&test_buffer);
    ffi.native.captured_len = 0;
    write(.stdout, "out");
    write(.stderr, "err");
    try std.testing.expectEqualStrings("out", ffi.native.captured[0..ffi.native.captured_len]);
    try std.testing.expectEqual(@as(u32, @intFromEnum(Stream.stderr)), ring.stream);
    flush();
    try std.testing.expectEqualStrings("outerr", ffi.native.captured[0..ffi.native.captured_len]);
}

test "lauxlib's messages to stderr keep their newline" {
    init(&test_buffer);
    ffi.native.captured_len = 0;
    ffi.native.captured_err_len = 0;
    lw_write_stderr_fmt("%s\n", "one");
    lw_write_stderr_fmt("%s", "two");
    lw_write_stdout("three", 5);
    flush();
    try std.testing.expectEqualStrings("one\ntwo", ffi.native.captured_err[0..ffi.native.captured_err_len]);
    try std.testing.expectEqualStrings("one\ntwothree", ffi.native.captured[0..ffi.native.captured_len]);
    try std.testing.expectEqual(@intFromPtr(&ring), ringAddr());
}
