//! Lua's warning system (`warn`), as lauxlib's luaL_newstate sets it up:
//! off until "@on", messages to stderr as "Lua warning: ...", pieces joined.
const std = @import("std");
const lua = @import("lua.zig");
const c = lua.c;
const output = @import("output.zig");

const Mode = enum { off, on, continuing };
var mode: Mode = .off;

pub fn install(L: ?*lua.State) void {
    mode = .off;
    c.lua_setwarnf(L, handler, null);
}

fn handler(_: ?*anyopaque, message: [*c]const u8, tocont: c_int) callconv(.c) void {
    const text = std.mem.span(@as([*:0]const u8, @ptrCast(message)));
    if (mode != .continuing and tocont == 0 and text.len > 0 and text[0] == '@') {
        // A control message: "@on" and "@off" switch; others are ignored.
        if (std.mem.eql(u8, text, "@on")) mode = .on;
        if (std.mem.eql(u8, text, "@off")) mode = .off;
        return;
    }
    if (mode == .off) return;
    if (mode == .on) output.write(.stderr, "Lua warning: ");
    output.write(.stderr, text);
    if (tocont != 0) {
        mode = .continuing;
    } else {
        output.write(.stderr, "\n");
        mode = .on;
    }
}

// ---------------------------------------------------------------- tests

const harness = @import("test_harness.zig");
const ffi = @import("ffi.zig");

test "warnings are off until @on, go to stderr, and join their pieces" {
    const L = harness.engine();
    try harness.run(L,
        \\warn("not shown")
        \\warn("@on")
        \\warn("a", "b", 1)
        \\warn("@off")
        \\warn("hidden")
        \\warn("@on")
        \\warn("@unknown control")
        \\warn("x", "@on")
        \\warn("@off", "is text")
        \\warn("@off")
        \\warn("not shown either")
    );
    output.flush();
    try std.testing.expectEqualStrings("Lua warning: ab1\nLua warning: x@on\nLua warning: @offis text\n", ffi.native.captured_err[0..ffi.native.captured_err_len]);
    try std.testing.expectEqual(ffi.native.captured_len, ffi.native.captured_err_len);
}

test "a new state starts with warnings off" {
    var L = harness.engine();
    try harness.run(L, "warn('@on')");
    L = harness.engine();
    try harness.run(L, "warn('quiet')");
    output.flush();
    try std.testing.expectEqual(@as(usize, 0), ffi.native.captured_err_len);
}
