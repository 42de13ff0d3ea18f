//! Where the last failed allocation happened: the innermost Lua function's
//! source and line, recorded by the allocator (state.zig) so the host can
//! name them in its out-of-memory message (lw_oom_where, docs/ABI.md).
const lua = @import("lua.zig");
const c = lua.c;
const interrupt = @import("interrupt.zig");

/// Frames searched for a Lua function above C ones (string.rep, table.concat).
const frames_max: c_int = 16;

/// Read by the host: the line (0: none recorded), then the source as
/// lua_Debug.short_src gives it, NUL-terminated.
pub const Where = extern struct {
    line: u32 = 0,
    source: [c.LUA_IDSIZE]u8 = @splat(0),
};

pub var where: Where = .{};

/// Records the running thread's innermost Lua frame. Allocates nothing:
/// lua_getstack and lua_getinfo("Sl") only read the call chain.
pub fn record() void {
    const L = interrupt.current_thread orelse return;
    var ar: c.lua_Debug = undefined;
    var level: c_int = 0;
    while (level < frames_max and c.lua_getstack(L, level, &ar) != 0) : (level += 1) {
        if (c.lua_getinfo(L, "Sl", &ar) == 0) return;
        if (ar.currentline > 0) {
            where.line = @intCast(ar.currentline);
            where.source = ar.short_src;
            return;
        }
    }
}

// ---------------------------------------------------------------- tests

const std = @import("std");
const harness = @import("test_harness.zig");
const eval = @import("eval.zig");
const Status = @import("error.zig").Status;

test "a failed allocation records the innermost Lua line, above C functions" {
    _ = harness.engine();
    where = .{};
    try std.testing.expectEqual(Status.out_of_memory, eval.eval("[cell 7]", "local a = 1\nlocal s = string.rep('x', 1 << 30)"));
    try std.testing.expectEqual(@as(u32, 2), where.line);
    try std.testing.expectEqualStrings("[cell 7]", std.mem.sliceTo(&where.source, 0));
    // Inside a coroutine: the coroutine's line.
    try std.testing.expectEqual(Status.out_of_memory, eval.eval("[cell 8]", "coroutine.wrap(function()\n\n  return ('y'):rep(1 << 30)\nend)()"));
    try std.testing.expectEqual(@as(u32, 3), where.line);
    try std.testing.expectEqualStrings("[cell 8]", std.mem.sliceTo(&where.source, 0));
}
