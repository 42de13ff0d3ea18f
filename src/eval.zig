//! One eval: load the cell by lua.c's REPL rule, run it under a message
//! handler, and write the reply (values with display text, or an error).
const std = @import("std");
const lua = @import("lua.zig");
const c = lua.c;
const state = @import("state.zig");
const serializer = @import("serializer.zig");
const output = @import("output.zig");
const interrupt = @import("interrupt.zig");
const err = @import("error.zig");
const libs = @import("libs.zig");
const Status = err.Status;

const Request = struct {
    name: []const u8,
    code: []const u8,
    status: Status = .ok,
};

/// Fallback reply when even the reply cannot be allocated.
const oom_reply = [_]u8{ 3, 0, 0, 0, 17, 0, 0, 0 } ++ "not enough memory".* ++ [_]u8{ 0, 0, 0, 0 };
var use_oom_reply = false;

pub fn replyBytes() []const u8 {
    if (use_oom_reply) return &oom_reply;
    return state.reply.bytes();
}

/// The request protectedEval may take: set by eval, consumed by its first
/// call. Lua code can reach protectedEval (debug.getinfo on the bottom
/// frame) and call it with any argument; only this exact pointer, once, runs.
var in_flight: ?*Request = null;

/// Runs `code` as the chunk `name`; the reply is left in state.reply.
pub fn eval(name: []const u8, code: []const u8) Status {
    const L = state.L;
    const top = c.lua_gettop(L);
    defer c.lua_settop(L, top);
    state.reply.reset();
    use_oom_reply = false;
    interrupt.beginEval();
    var request = Request{ .name = name, .code = code };
    in_flight = &request;
    defer in_flight = null;
    lua.pushCFunction(L, protectedEval);
    c.lua_pushlightuserdata(L, &request);
    const status = lua.pcall(L, 1, 0, 0);
    if (status != c.LUA_OK) {
        // Only a memory error can escape protectedEval.
        request.status = Status.fromLua(status, interrupt.requested());
        replyError(L, request.status, lua.toSlice(L, -1) orelse "not enough memory", "");
    }
    // A cell that ran out of memory leaves its garbage behind, and the next
    // cell's first stack growth cannot collect it (ldo.c grows the stack with
    // emergency collections off): collect it now.
    if (request.status == .out_of_memory) _ = c.lua_gc(L, c.LUA_GCCOLLECT);
    output.flush();
    interrupt.disarm(L); // the stop hook only: a hook the cell set stays, as in lua.c
    return request.status;
}

fn protectedEval(L: ?*lua.State) callconv(.c) c_int {
    const given = if (c.lua_type(L, 1) == c.LUA_TLIGHTUSERDATA) c.lua_touserdata(L, 1) else null;
    const request = in_flight orelse return c.luaL_error(L, "the engine's eval cannot be called from Lua");
    if (given != @as(?*anyopaque, @ptrCast(request))) return c.luaL_error(L, "the engine's eval cannot be called from Lua");
    in_flight = null;
    lua.pushCFunction(L, err.messageHandler); // 2
    c.lua_pushnil(L);
    c.lua_setfield(L, c.LUA_REGISTRYINDEX, err.traceback_key);
    const chunkname = pushChunkName(L, request.name); // 3
    var status = load(L, request.code, chunkname); // 4: the chunk or an error
    if (status == c.LUA_OK) status = lua.pcall(L, 0, c.LUA_MULTRET, 2);
    if (status != c.LUA_OK) {
        request.status = Status.fromLua(status, interrupt.requested());
        _ = c.lua_getfield(L, c.LUA_REGISTRYINDEX, err.traceback_key);
        const traceback = if (status == c.LUA_ERRRUN or status == c.LUA_ERRERR) trimTraceback(lua.toSlice(L, -1) orelse "") else "";
        replyError(L, request.status, lua.toSlice(L, -2) orelse "(error object is not a string)", traceback);
        return 0;
    }
    request.status = .ok;
    // The cell finished: a stop request that came too late to interrupt it
    // must not break the rendering of its values.
    interrupt.settle(L);
    const count = if (suppressed(request.code)) 0 else c.lua_gettop(L) - 3;
    replyValues(L, 4, count) catch {
        request.status = .out_of_memory;
        replyError(L, .out_of_memory, "not enough memory for the results", "");
    };
    return 0;
}

/// Drops the engine's own C frame from the bottom of a traceback.
fn trimTraceback(t: []const u8) []const u8 {
    return if (std.mem.endsWith(u8, t, "\n\t[C]: in ?")) t[0 .. t.len - "\n\t[C]: in ?".len] else t;
}

/// "[cell 3]" becomes "=[cell 3]", so messages read "[cell 3]:1: ...".
fn pushChunkName(L: ?*lua.State, name: []const u8) [*:0]const u8 {
    if (name.len > 0 and (name[0] == '=' or name[0] == '@')) return lua.pushSlice(L, name);
    _ = lua.pushSlice(L, "=");
    _ = lua.pushSlice(L, name);
    c.lua_concat(L, 2);
    return @ptrCast(c.lua_tolstring(L, -1, null));
}

/// lua.c's rule: try `return <code>` first, then the code as statements.
/// When both fail, a notebook's habit: statements, then the last line's value.
fn load(L: ?*lua.State, code: []const u8, chunkname: [*:0]const u8) c_int {
    var with_return = Parts{ .pieces = .{ "return ", code, "" } };
    if (c.lua_load(L, Parts.read, &with_return, chunkname, "t") == c.LUA_OK) return c.LUA_OK;
    lua.pop(L, 1);
    var as_is = Parts{ .pieces = .{ code, "", "" } };
    const status = c.lua_load(L, Parts.read, &as_is, chunkname, "t");
    if (status != c.LUA_ERRSYNTAX) return status;
    const body = std.mem.trimEnd(u8, code, " \t\r\n");
    const split = (std.mem.lastIndexOfScalar(u8, body, '\n') orelse return status) + 1;
    var last_line = Parts{ .pieces = .{ body[0..split], "return ", body[split..] } };
    if (c.lua_load(L, Parts.read, &last_line, chunkname, "t") != c.LUA_OK) {
        lua.pop(L, 1);
        return status; // the statement form's error is the one to report
    }
    c.lua_rotate(L, -2, 1); // drop the first error, keep the chunk on top
    lua.pop(L, 1);
    return c.LUA_OK;
}

/// A trailing `;` asks for no result, as in IPython.
fn suppressed(code: []const u8) bool {
    return std.mem.endsWith(u8, std.mem.trimEnd(u8, code, " \t\r\n"), ";");
}

/// A lua_Reader over three slices, so "return " needs no copy of the cell.
const Parts = struct {
    pieces: [3][]const u8,
    next: usize = 0,

    fn read(_: ?*lua.State, ud: ?*anyopaque, size: [*c]usize) callconv(.c) [*c]const u8 {
        const self: *Parts = @ptrCast(@alignCast(ud));
        while (self.next < self.pieces.len) {
            const piece = self.pieces[self.next];
            self.next += 1;
            if (piece.len == 0) continue;
            size.* = piece.len;
            return piece.ptr;
        }
        size.* = 0;
        return null;
    }
};

/// Reply: status 0, u32 count, then each value and its display text.
/// render runs Lua (finalizers, host calls, ext reads) between appends; none
/// of them touches state.reply: only this file writes it, lw_eval refuses to
/// nest, and crossings keep their bytes in their own Boxes (crossing.zig).
fn replyValues(L: ?*lua.State, first: c_int, count: c_int) error{OutOfMemory}!void {
    const reply = &state.reply;
    try reply.appendU32(@intCast(@intFromEnum(Status.ok)));
    try reply.appendU32(@intCast(count));
    var i: c_int = 0;
    while (i < count) : (i += 1) {
        try serializer.encode(L, first + i, reply);
        try reply.appendString(displayText(L, first + i));
        lua.pop(L, 1);
    }
}

/// The prelude's render(value), protected; leaves one string on the stack.
fn displayText(L: ?*lua.State, idx: c_int) []const u8 {
    _ = c.lua_getfield(L, c.LUA_REGISTRYINDEX, libs.prelude_key);
    _ = c.lua_getfield(L, -1, "render");
    c.lua_rotate(L, -2, -1);
    lua.pop(L, 1);
    c.lua_pushvalue(L, idx);
    if (lua.pcall(L, 1, 1, 0) != c.LUA_OK or c.lua_type(L, -1) != c.LUA_TSTRING) {
        lua.pop(L, 1);
        _ = lua.pushSlice(L, "<value cannot be displayed>");
    }
    return lua.toSlice(L, -1).?;
}

/// Reply: status, u32 length and message, u32 length and traceback.
fn replyError(L: ?*lua.State, status: Status, message: []const u8, traceback: []const u8) void {
    _ = L;
    const reply = &state.reply;
    reply.len = 0;
    (struct {
        fn write(r: anytype, s: Status, m: []const u8, t: []const u8) error{OutOfMemory}!void {
            try r.appendU32(@intCast(@intFromEnum(s)));
            try r.appendString(m);
            try r.appendString(t);
        }
    }).write(reply, status, message, traceback) catch {
        use_oom_reply = true;
    };
}

// ---------------------------------------------------------------- tests

const harness = @import("test_harness.zig");
const ffi = @import("ffi.zig");
const testing = std.testing;

/// A reply, read back: the status, then values (their display texts) or an error.
const TestReply = struct {
    status: Status,
    count: u32 = 0,
    texts: [8][]const u8 = undefined,
    message: []const u8 = "",
    traceback: []const u8 = "",

    fn read() !TestReply {
        const b = replyBytes();
        var at: usize = 4;
        var r = TestReply{ .status = @enumFromInt(std.mem.readInt(i32, b[0..4], .little)) };
        if (r.status != .ok) {
            r.message = string(b, &at);
            r.traceback = string(b, &at);
        } else {
            r.count = std.mem.readInt(u32, b[4..8], .little);
            at = 8;
            for (0..r.count) |i| {
                at += try serializer.decode(state.L, b[at..]);
                lua.pop(state.L, 1);
                r.texts[i] = string(b, &at);
            }
        }
        try testing.expectEqual(b.len, at);
        return r;
    }

    fn string(b: []const u8, at: *usize) []const u8 {
        const len = std.mem.readInt(u32, b[at.*..][0..4], .little);
        defer at.* += 4 + len;
        return b[at.* + 4 ..][0..len];
    }
};

/// Evaluates `code` as the cell "[cell 1]" in the engine and reads the reply.
fn evalCell(code: []const u8) !TestReply {
    const status = eval("[cell 1]", code);
    const r = try TestReply.read();
    try testing.expectEqual(status, r.status);
    return r;
}

test "an expression's value comes back with its display text" {
    _ = harness.engine();
    const r = try evalCell("1 + 1, 'a', {x = 1}");
    try testing.expectEqual(Status.ok, r.status);
    try testing.expectEqual(@as(u32, 3), r.count);
    try testing.expectEqualStrings("2", r.texts[0]);
    try testing.expectEqualStrings("a", r.texts[1]);
    try testing.expectEqualStrings("{x = 1}", r.texts[2]);
}

test "statements run as they are; then the last line's value is shown" {
    _ = harness.engine();
    var r = try evalCell("x = 20");
    try testing.expectEqual(@as(u32, 0), r.count);
    r = try evalCell("local y = x + 1\nprint(y)\ny * 2\n");
    try testing.expectEqual(@as(u32, 1), r.count);
    try testing.expectEqualStrings("42", r.texts[0]);
    try testing.expectEqualStrings("21\n", ffi.native.captured[0..ffi.native.captured_len]);
    // A `return` of its own is kept as it is.
    r = try evalCell("local t = {}\nreturn #t, 'n'");
    try testing.expectEqual(@as(u32, 2), r.count);
    try testing.expectEqualStrings("0", r.texts[0]);
}

test "a trailing semicolon asks for no result" {
    _ = harness.engine();
    var r = try evalCell("1 + 1;  \n");
    try testing.expectEqual(Status.ok, r.status);
    try testing.expectEqual(@as(u32, 0), r.count);
    r = try evalCell("'semi;'");
    try testing.expectEqual(@as(u32, 1), r.count);
}

test "a syntax error is the statement form's, named after the cell" {
    _ = harness.engine();
    var r = try evalCell("x = = 1");
    try testing.expectEqual(Status.syntax_error, r.status);
    try testing.expectEqualStrings("[cell 1]:1: unexpected symbol near '='", r.message);
    try testing.expectEqualStrings("", r.traceback);
    // Both forms fail: the statements' error is the one reported.
    r = try evalCell("local a = 1\nlocal b = = 2");
    try testing.expectEqualStrings("[cell 1]:2: unexpected symbol near '='", r.message);
    // A name that starts with '=' or '@' is Lua's own.
    try testing.expectEqual(Status.syntax_error, eval("=raw", "("));
    r = try TestReply.read();
    try testing.expect(std.mem.startsWith(u8, r.message, "raw:1:"));
}

test "a runtime error gives its message and a traceback without the engine's frame" {
    _ = harness.engine();
    var r = try evalCell("local function f() error('boom') end\nf()");
    try testing.expectEqual(Status.runtime_error, r.status);
    try testing.expectEqualStrings("[cell 1]:1: boom", r.message);
    try testing.expect(std.mem.startsWith(u8, r.traceback, "stack traceback:"));
    try testing.expect(std.mem.indexOf(u8, r.traceback, "in local 'f'") != null);
    try testing.expect(!std.mem.endsWith(u8, r.traceback, "[C]: in ?"));
    // Error objects that are not strings, as lua.c shows them.
    r = try evalCell("error({})");
    try testing.expectEqualStrings("(error object is a table value)", r.message);
    r = try evalCell("error(setmetatable({}, {__tostring = function() return 'custom' end}))");
    try testing.expectEqualStrings("custom", r.message);
}

test "a value that cannot be displayed still comes back" {
    _ = harness.engine();
    const r = try evalCell("setmetatable({}, {__tostring = function() error('no') end})");
    try testing.expectEqual(@as(u32, 1), r.count);
    try testing.expectEqualStrings("<value cannot be displayed>", r.texts[0]);
}

test "Lua cannot call the engine's eval" {
    _ = harness.engine();
    const r = try evalCell("local f = debug.getinfo(2, 'f').func\nreturn select(2, pcall(f)), select(2, pcall(f, 1))");
    try testing.expectEqual(@as(u32, 2), r.count);
    try testing.expectEqualStrings("the engine's eval cannot be called from Lua", r.texts[0]);
    try testing.expectEqualStrings("the engine's eval cannot be called from Lua", r.texts[1]);
}

test "running out of memory is its own status, and the next cell runs" {
    _ = harness.engine();
    var r = try evalCell("local t = {}\nfor i = 1, 1e9 do t[i] = ('x'):rep(100) .. i end");
    try testing.expectEqual(Status.out_of_memory, r.status);
    try testing.expectEqualStrings("not enough memory", r.message);
    r = try evalCell("2 ^ 10");
    try testing.expectEqualStrings("1024.0", r.texts[0]);
}

test "the status of a Lua error" {
    try testing.expectEqual(Status.ok, Status.fromLua(c.LUA_OK, false));
    try testing.expectEqual(Status.syntax_error, Status.fromLua(c.LUA_ERRSYNTAX, true));
    try testing.expectEqual(Status.out_of_memory, Status.fromLua(c.LUA_ERRMEM, true));
    try testing.expectEqual(Status.runtime_error, Status.fromLua(c.LUA_ERRRUN, false));
    try testing.expectEqual(Status.interrupted, Status.fromLua(c.LUA_ERRRUN, true));
    try testing.expectEqual(Status.interrupted, Status.fromLua(c.LUA_ERRERR, true));
}
