//! The type-tagged value format shared with the host (docs/FORMAT.md):
//! encode a Lua value into bytes, decode bytes into a Lua value.
const std = @import("std");
const lua = @import("lua.zig");
const c = lua.c;
const limits = @import("limits.zig");
const Buffer = @import("reply.zig").Buffer;

pub const Tag = enum(u8) {
    nil = 0x00,
    boolean = 0x01,
    integer = 0x02,
    float = 0x03,
    string = 0x04,
    /// u32 pair count, then key, value, key, value ...
    table = 0x05,
    /// u32 depth of the enclosing table it refers back to (0 = outermost).
    cycle = 0x06,
    /// u8 Lua type, then u32 length and its tostring text.
    opaque_value = 0x07,
    /// Beyond the depth or item limit: u32 length and its tostring text.
    truncated = 0x08,
};

pub const Error = error{ OutOfMemory, Malformed };

/// Tables currently being encoded (for cycles) and items left in the budget.
const Walk = struct {
    path: [limits.serialize_depth_max]*const anyopaque = undefined,
    depth: u32 = 0,
    items_left: u32 = limits.serialize_items_max,
};

/// Appends the value at `idx` to `buf`.
pub fn encode(L: ?*lua.State, idx: c_int, buf: *Buffer) error{OutOfMemory}!void {
    var walk = Walk{};
    try encodeValue(L, c.lua_absindex(L, idx), buf, &walk);
}

fn encodeValue(L: ?*lua.State, idx: c_int, buf: *Buffer, walk: *Walk) error{OutOfMemory}!void {
    switch (c.lua_type(L, idx)) {
        c.LUA_TNIL => try buf.appendByte(@intFromEnum(Tag.nil)),
        c.LUA_TBOOLEAN => {
            try buf.appendByte(@intFromEnum(Tag.boolean));
            try buf.appendByte(@intFromBool(c.lua_toboolean(L, idx) != 0));
        },
        c.LUA_TNUMBER => if (c.lua_isinteger(L, idx) != 0) {
            try buf.appendByte(@intFromEnum(Tag.integer));
            try buf.appendI64(c.lua_tointegerx(L, idx, null));
        } else {
            try buf.appendByte(@intFromEnum(Tag.float));
            try buf.appendF64(c.lua_tonumberx(L, idx, null));
        },
        c.LUA_TSTRING => {
            try buf.appendByte(@intFromEnum(Tag.string));
            try buf.appendString(lua.toSlice(L, idx).?);
        },
        c.LUA_TTABLE => try encodeTable(L, idx, buf, walk),
        else => {
            try buf.appendByte(@intFromEnum(Tag.opaque_value));
            try buf.appendByte(@intCast(c.lua_type(L, idx)));
            try appendAddressText(L, idx, buf);
        },
    }
}

fn encodeTable(L: ?*lua.State, idx: c_int, buf: *Buffer, walk: *Walk) error{OutOfMemory}!void {
    const ptr = c.lua_topointer(L, idx).?;
    for (walk.path[0..walk.depth], 0..) |ancestor, depth| {
        if (ancestor != ptr) continue;
        try buf.appendByte(@intFromEnum(Tag.cycle));
        return buf.appendU32(@intCast(depth));
    }
    if (walk.depth == walk.path.len or walk.items_left == 0 or c.lua_checkstack(L, 3) == 0) {
        try buf.appendByte(@intFromEnum(Tag.truncated));
        return appendAddressText(L, idx, buf);
    }
    walk.path[walk.depth] = ptr;
    walk.depth += 1;
    defer walk.depth -= 1;
    try buf.appendByte(@intFromEnum(Tag.table));
    const count_at = buf.len;
    try buf.appendU32(0);
    var count: u32 = 0;
    c.lua_pushnil(L);
    while (c.lua_next(L, idx) != 0) : (count += 1) {
        if (walk.items_left == 0) {
            lua.pop(L, 2);
            break;
        }
        walk.items_left -= 1;
        encodeValue(L, c.lua_gettop(L) - 1, buf, walk) catch |e| {
            lua.pop(L, 2);
            return e;
        };
        encodeValue(L, c.lua_gettop(L), buf, walk) catch |e| {
            lua.pop(L, 2);
            return e;
        };
        lua.pop(L, 1);
    }
    buf.patchU32(count_at, count);
}

/// "function: 0x0001a2b0", as tostring shows a value without metamethods.
fn appendAddressText(L: ?*lua.State, idx: c_int, buf: *Buffer) error{OutOfMemory}!void {
    var text: [64]u8 = undefined;
    const name = std.mem.span(lua.typeName(L, idx));
    const s = std.fmt.bufPrint(&text, "{s}: 0x{x:0>8}", .{ name, @intFromPtr(c.lua_topointer(L, idx)) }) catch unreachable;
    try buf.appendString(s);
}

/// Reads one value from `bytes`, pushes it, and returns the bytes consumed.
/// Tables nested deeper than limits.serialize_depth_max are Malformed: no
/// encoder writes them, and the recursion stays bounded whatever the bytes.
/// Must run under a protected call: building tables can raise a memory error.
pub fn decode(L: ?*lua.State, bytes: []const u8) Error!usize {
    var reader = Reader{ .bytes = bytes };
    try decodeValue(L, &reader);
    return reader.at;
}

const Reader = struct {
    bytes: []const u8,
    at: usize = 0,
    /// Stack slots of the tables open around the value being read (for cycles).
    tables: [limits.serialize_depth_max]c_int = undefined,
    depth: u32 = 0,

    fn take(self: *Reader, n: usize) Error![]const u8 {
        if (self.bytes.len - self.at < n) return error.Malformed;
        defer self.at += n;
        return self.bytes[self.at..][0..n];
    }
    fn byte(self: *Reader) Error!u8 {
        return (try self.take(1))[0];
    }
    fn int(self: *Reader, comptime T: type) Error!T {
        return std.mem.readInt(T, (try self.take(@sizeOf(T)))[0..@sizeOf(T)], .little);
    }
    fn string(self: *Reader) Error![]const u8 {
        return self.take(try self.int(u32));
    }
};

fn decodeValue(L: ?*lua.State, r: *Reader) Error!void {
    if (c.lua_checkstack(L, 4) == 0) return error.OutOfMemory;
    const raw = try r.byte();
    if (raw > @intFromEnum(Tag.truncated)) return error.Malformed;
    const tag: Tag = @enumFromInt(raw);
    switch (tag) {
        .nil => c.lua_pushnil(L),
        .boolean => c.lua_pushboolean(L, @intFromBool((try r.byte()) != 0)),
        .integer => c.lua_pushinteger(L, try r.int(i64)),
        .float => c.lua_pushnumber(L, @bitCast(try r.int(u64))),
        .string, .truncated => _ = lua.pushSlice(L, try r.string()),
        .opaque_value => {
            _ = try r.byte();
            _ = lua.pushSlice(L, try r.string());
        },
        .cycle => {
            const target = try r.int(u32);
            if (target >= r.depth) return error.Malformed;
            c.lua_pushvalue(L, r.tables[target]);
        },
        .table => {
            if (r.depth == r.tables.len) return error.Malformed;
            const count = try r.int(u32);
            if (count > r.bytes.len) return error.Malformed;
            c.lua_createtable(L, 0, 0);
            const t = c.lua_gettop(L);
            r.tables[r.depth] = t;
            r.depth += 1;
            for (0..count) |_| {
                try decodeValue(L, r);
                try decodeValue(L, r);
                if (c.lua_type(L, -2) == c.LUA_TNIL) return error.Malformed;
                c.lua_rawset(L, t);
            }
            r.depth -= 1;
        },
    }
}

// ---------------------------------------------------------------- tests

const harness = @import("test_harness.zig");


fn dummyFunction(_: ?*lua.State) callconv(.c) c_int {
    return 0;
}

fn expectOk(L: ?*lua.State, status: c_int) !void {
    if (status == c.LUA_OK) return;
    std.debug.print("lua error: {s}\n", .{lua.toSlice(L, -1) orelse "?"});
    return error.LuaError;
}

fn roundTrip(L: ?*lua.State, expr: []const u8) !void {
    var buf = Buffer{ .heap = &harness.heap };
    const code = try std.fmt.allocPrint(std.testing.allocator, "return {s}", .{expr});
    defer std.testing.allocator.free(code);
    try std.testing.expectEqual(c.LUA_OK, c.luaL_loadbufferx(L, code.ptr, code.len, "=test", null));
    try expectOk(L, lua.pcall(L, 0, 1, 0));
    try encode(L, -1, &buf);
    const used = try decode(L, buf.bytes());
    try std.testing.expectEqual(buf.len, used);
    // Re-encoding the decoded copy must give the same bytes (same keys, same order
    // is not guaranteed for hash parts, so compare through a Lua deep-equality).
    _ = c.lua_getglobal(L, "deep_equal");
    c.lua_rotate(L, -3, 1);
    try expectOk(L, lua.pcall(L, 2, 1, 0));
    try std.testing.expect(c.lua_toboolean(L, -1) != 0);
    lua.pop(L, 1);
    buf.reset();
}

test "scalars and nested tables round-trip" {
    const L = harness.newState();
    defer c.lua_close(L);
    const helper =
        \\function deep_equal(a, b, seen)
        \\  if type(a) ~= type(b) then return false end
        \\  if type(a) ~= "table" then
        \\    return a == b and math.type(a) == math.type(b)
        \\  end
        \\  seen = seen or {}
        \\  if seen[a] then return seen[a] == b end
        \\  seen[a] = b
        \\  for k, v in pairs(a) do if not deep_equal(v, b[k], seen) then return false end end
        \\  for k in pairs(b) do if a[k] == nil then return false end end
        \\  return true
        \\end
    ;
    try std.testing.expectEqual(c.LUA_OK, c.luaL_loadbufferx(L, helper, helper.len, "=helper", null));
    lua.call(L, 0, 0);
    for ([_][]const u8{
        "nil",                            "true",                 "false",
        "0",                              "-9223372036854775807", "math.mininteger",
        "3.5",                            "-0.0",                 "1/0",
        "''",                             "'hello\\0world'",      "string.rep('x', 70000)",
        "{}",                             "{1, 2, 3}",            "{a = {b = {c = 'd'}}, [1.5] = true}",
        "{[true] = 1, [false] = 2, 'x'}",
    }) |expr| try roundTrip(L, expr);
}

test "cycles encode as references and decode to the same shape" {
    const L = harness.newState();
    defer c.lua_close(L);
    const code = "local t = {name = 'root'}; t.self = t; t.child = {up = t}; return t";
    try std.testing.expectEqual(c.LUA_OK, c.luaL_loadbufferx(L, code, code.len, "=t", null));
    lua.call(L, 0, 1);
    var buf = Buffer{ .heap = &harness.heap };
    try encode(L, -1, &buf);
    _ = try decode(L, buf.bytes());
    _ = c.lua_getfield(L, -1, "self");
    try std.testing.expect(c.lua_rawequal(L, -1, -2) != 0);
    lua.pop(L, 1);
    _ = c.lua_getfield(L, -1, "child");
    _ = c.lua_getfield(L, -1, "up");
    try std.testing.expect(c.lua_rawequal(L, -1, -3) != 0);
}

test "functions are opaque, malformed input is refused" {
    const L = harness.newState();
    defer c.lua_close(L);
    var buf = Buffer{ .heap = &harness.heap };
    lua.pushCFunction(L, &dummyFunction);
    try encode(L, -1, &buf);
    try std.testing.expectEqual(@intFromEnum(Tag.opaque_value), buf.bytes()[0]);
    try std.testing.expectEqual(@as(u8, c.LUA_TFUNCTION), buf.bytes()[1]);
    try std.testing.expect(std.mem.startsWith(u8, buf.bytes()[6..], "function: 0x"));
    try std.testing.expectError(error.Malformed, decode(L, &.{0x04, 9, 0, 0, 0, 'a'}));
    try std.testing.expectError(error.Malformed, decode(L, &.{0x42}));
    try std.testing.expectError(error.Malformed, decode(L, &.{ 0x05, 1, 0, 0, 0, 0x00, 0x01, 1 }));
}

test "the decoder refuses tables nested deeper than the limit, at any depth of bytes" {
    const L = harness.newState();
    defer c.lua_close(L);
    // Each level: table tag, count 1, integer key 1 (8 bytes of value follow).
    var ok: std.ArrayList(u8) = .empty;
    defer ok.deinit(std.testing.allocator);
    const level = [_]u8{ 0x05, 1, 0, 0, 0, 0x02, 1, 0, 0, 0, 0, 0, 0, 0 };
    for (0..limits.serialize_depth_max) |_| try ok.appendSlice(std.testing.allocator, &level);
    try ok.append(std.testing.allocator, 0x00);
    try std.testing.expectEqual(ok.items.len, try decode(L, ok.items));
    lua.pop(L, 1);
    var deep: std.ArrayList(u8) = .empty;
    defer deep.deinit(std.testing.allocator);
    for (0..20_000) |_| try deep.appendSlice(std.testing.allocator, &level);
    try deep.append(std.testing.allocator, 0x00);
    try std.testing.expectError(error.Malformed, decode(L, deep.items));
    // A cycle may only point at a table open around it.
    try std.testing.expectError(error.Malformed, decode(L, &.{ 0x06, 0, 0, 0, 0 }));
}

test "a cycle refers to the table at its depth, not to a key on the stack" {
    const L = harness.newState();
    defer c.lua_close(L);
    const code = "local t = {a = {}}; t.a.b = {c = t.a}; return t";
    try std.testing.expectEqual(c.LUA_OK, c.luaL_loadbufferx(L, code, code.len, "=t", null));
    lua.call(L, 0, 1);
    var buf = Buffer{ .heap = &harness.heap };
    try encode(L, -1, &buf);
    _ = try decode(L, buf.bytes());
    const check = "local t = ...; return t.a.b.c == t.a";
    try std.testing.expectEqual(c.LUA_OK, c.luaL_loadbufferx(L, check, check.len, "=check", null));
    lua.insert(L, -2);
    lua.call(L, 1, 1);
    try std.testing.expect(c.lua_toboolean(L, -1) != 0);
}
