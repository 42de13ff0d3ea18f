//! The reply of an eval: a growable byte buffer on the Lua heap that the
//! host reads after the call (layout in docs/ABI.md, "Reply").
const std = @import("std");
const assert = std.debug.assert;
const Tlsf = @import("allocator.zig").Tlsf;

pub const Buffer = struct {
    heap: *Tlsf,
    ptr: ?[*]u8 = null,
    len: u32 = 0,
    cap: u32 = 0,

    /// Empties the buffer; a large one gives its memory back.
    pub fn reset(self: *Buffer) void {
        self.len = 0;
        if (self.cap > 64 * 1024) {
            self.heap.free(self.ptr.?);
            self.ptr = null;
            self.cap = 0;
        }
    }

    pub fn bytes(self: *const Buffer) []const u8 {
        const p = self.ptr orelse return &.{};
        return p[0..self.len];
    }

    pub fn append(self: *Buffer, data: []const u8) error{OutOfMemory}!void {
        try self.reserve(@intCast(data.len));
        @memcpy(self.ptr.?[self.len..][0..data.len], data);
        self.len += @intCast(data.len);
    }

    pub fn appendByte(self: *Buffer, b: u8) error{OutOfMemory}!void {
        try self.append(&[_]u8{b});
    }

    pub fn appendU32(self: *Buffer, v: u32) error{OutOfMemory}!void {
        var le: [4]u8 = undefined;
        std.mem.writeInt(u32, &le, v, .little);
        try self.append(&le);
    }

    pub fn appendI64(self: *Buffer, v: i64) error{OutOfMemory}!void {
        var le: [8]u8 = undefined;
        std.mem.writeInt(i64, &le, v, .little);
        try self.append(&le);
    }

    pub fn appendF64(self: *Buffer, v: f64) error{OutOfMemory}!void {
        try self.appendI64(@bitCast(v));
    }

    /// A length-prefixed byte string: u32 length, then the bytes.
    pub fn appendString(self: *Buffer, s: []const u8) error{OutOfMemory}!void {
        if (s.len > std.math.maxInt(u32)) return error.OutOfMemory;
        try self.appendU32(@intCast(s.len));
        try self.append(s);
    }

    /// Overwrites 4 bytes written earlier (a count known only later).
    pub fn patchU32(self: *Buffer, at: u32, v: u32) void {
        assert(at + 4 <= self.len);
        std.mem.writeInt(u32, self.ptr.?[at..][0..4], v, .little);
    }

    fn reserve(self: *Buffer, extra: u32) error{OutOfMemory}!void {
        const need = std.math.add(u32, self.len, extra) catch return error.OutOfMemory;
        if (need <= self.cap) return;
        const cap = @max(need, @max(self.cap *| 2, 256));
        const p = if (self.ptr) |old| self.heap.realloc(old, cap) else self.heap.alloc(cap);
        self.ptr = p orelse return error.OutOfMemory;
        self.cap = cap;
    }
};

test "buffer grows and keeps little-endian values" {
    var region: [64 * 1024]u8 align(8) = undefined;
    var heap = Tlsf.init(&region);
    var buf = Buffer{ .heap = &heap };
    try buf.appendU32(0x01020304);
    try buf.appendString("hi");
    for (0..1000) |_| try buf.appendI64(-2);
    try std.testing.expectEqualSlices(u8, &.{ 4, 3, 2, 1, 2, 0, 0, 0, 'h', 'i' }, buf.bytes()[0..10]);
    try std.testing.expectEqual(@as(u32, 10 + 8000), buf.len);
    buf.patchU32(0, 7);
    try std.testing.expectEqual(@as(u8, 7), buf.bytes()[0]);
}
