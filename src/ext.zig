//! External tables: `ext.table(name)` gives a proxy whose contents live in
//! the host (lua_wasm_kernel/ext_tables.py), outside the VM's small heap.
//! Each access crosses to the host through one lw_ext_* import, with keys
//! and values in the type-tagged format (docs/FORMAT.md). The host keeps the
//! bytes as they are, so the hot path decodes nothing in Python.
//! Opening a table, `ext.tables` and `ext.drop` are rare: host calls.
//! Lua API: docs/LUA_API.md, "ext"; imports: docs/ABI.md, "External tables".
const std = @import("std");
const lua = @import("lua.zig");
const c = lua.c;
const ffi = @import("ffi.zig");
const limits = @import("limits.zig");
const serializer = @import("serializer.zig");
const hostcall = @import("hostcall.zig");
const crossing = @import("crossing.zig");
const Tag = serializer.Tag;
const Buffer = @import("reply.zig").Buffer;

/// Registry key of the proxies' metatable, and their __name.
const metatable_name = "ext.table";
/// Registry field: the live proxies by table name (weak values).
const proxies_key = "lua_wasm.ext.proxies";

/// Scratch on the C stack for one key or one small value; larger ones
/// go to the heap. Keeps the common case free of allocations.
const scratch_size_bytes = 256;

/// What a proxy userdata holds; its user value 1 is the table's name.
const Proxy = extern struct { id: u32 };

/// How often a read asks again when the answer outgrew the room made for it
/// (a finalizer that ran while the room was allocated changed the value).
const ext_read_tries_max = 8;

/// Installs the global `ext` (also `package.loaded.ext`): three light C
/// functions. The metatable and the proxy cache are made on first use.
pub fn open(L: ?*lua.State) void {
    c.lua_createtable(L, 0, 3);
    lua.pushCFunction(L, extTable);
    c.lua_setfield(L, -2, "table");
    lua.pushCFunction(L, extTables);
    c.lua_setfield(L, -2, "tables");
    lua.pushCFunction(L, extDrop);
    c.lua_setfield(L, -2, "drop");
    _ = c.luaL_getsubtable(L, c.LUA_REGISTRYINDEX, c.LUA_LOADED_TABLE);
    c.lua_pushvalue(L, -2);
    c.lua_setfield(L, -2, "ext");
    lua.pop(L, 1);
    c.lua_setglobal(L, "ext");
}

// ---------------------------------------------------------------- ext.*

/// ext.table(name) -> the proxy of the table `name` (the same one while it lives).
fn extTable(L: ?*lua.State) callconv(.c) c_int {
    _ = checkName(L, 1);
    c.lua_settop(L, 1);
    pushProxies(L); // 2
    c.lua_pushvalue(L, 1);
    if (c.lua_rawget(L, 2) == c.LUA_TUSERDATA) return 1;
    lua.pop(L, 1);
    c.lua_pushvalue(L, 1);
    callHost(L, "lua_wasm.ext.open", 1, "ext.table");
    var is_int: c_int = 0;
    const id = c.lua_tointegerx(L, -1, &is_int);
    if (is_int == 0 or id <= 0 or id > std.math.maxInt(u32)) raise(L, "ext.table: the host gave no table id");
    lua.pop(L, 1);
    const proxy: *Proxy = @ptrCast(@alignCast(c.lua_newuserdatauv(L, @sizeOf(Proxy), 1).?));
    proxy.id = @intCast(id);
    c.lua_pushvalue(L, 1);
    _ = c.lua_setiuservalue(L, -2, 1);
    pushMetatable(L);
    _ = c.lua_setmetatable(L, -2);
    c.lua_pushvalue(L, 1);
    c.lua_pushvalue(L, -2);
    c.lua_rawset(L, 2);
    return 1;
}

/// ext.tables() -> a sequence of the tables' names, sorted.
fn extTables(L: ?*lua.State) callconv(.c) c_int {
    callHost(L, "lua_wasm.ext.tables", 0, "ext.tables");
    return 1;
}

/// ext.drop(name) -> true if the table existed. Its proxies stay valid: they
/// read nothing, and a store through one brings the table back.
fn extDrop(L: ?*lua.State) callconv(.c) c_int {
    _ = checkName(L, 1);
    c.lua_settop(L, 1);
    callHost(L, "lua_wasm.ext.drop", 1, "ext.drop");
    return 1;
}

fn checkName(L: ?*lua.State, arg: c_int) []const u8 {
    if (c.lua_type(L, arg) != c.LUA_TSTRING) _ = c.luaL_typeerror(L, arg, "string");
    const name = lua.toSlice(L, arg).?;
    if (name.len == 0 or name.len > limits.ext_table_name_size_max_bytes)
        _ = c.luaL_argerror(L, arg, "a table name is 1 to 256 bytes long");
    return name;
}

/// Calls the host function `name` with the `nargs` values on top and leaves
/// its reply in their place; a failure raises "<where>: <message>".
fn callHost(L: ?*lua.State, comptime name: [:0]const u8, nargs: c_int, comptime where: [:0]const u8) void {
    lua.pushCFunction(L, hostcall.hostCall);
    _ = lua.pushSlice(L, name);
    c.lua_rotate(L, -(nargs + 2), 2);
    lua.call(L, nargs + 1, 2);
    if (c.lua_toboolean(L, -2) == 0)
        _ = c.luaL_error(L, where ++ ": %s", c.lua_tolstring(L, -1, null));
    c.lua_rotate(L, -2, 1);
    lua.pop(L, 1);
}

fn pushProxies(L: ?*lua.State) void {
    if (c.lua_getfield(L, c.LUA_REGISTRYINDEX, proxies_key) == c.LUA_TTABLE) return;
    lua.pop(L, 1);
    lua.newTable(L);
    c.lua_createtable(L, 0, 1);
    _ = lua.pushSlice(L, "v");
    c.lua_setfield(L, -2, "__mode");
    _ = c.lua_setmetatable(L, -2);
    c.lua_pushvalue(L, -1);
    c.lua_setfield(L, c.LUA_REGISTRYINDEX, proxies_key);
}

fn pushMetatable(L: ?*lua.State) void {
    if (c.luaL_newmetatable(L, metatable_name) == 0) return;
    const methods = [_]struct { name: [*:0]const u8, f: lua.CFn }{
        .{ .name = "__index", .f = index },
        .{ .name = "__newindex", .f = newIndex },
        .{ .name = "__len", .f = length },
        .{ .name = "__pairs", .f = pairs },
        .{ .name = "__tostring", .f = toString },
    };
    for (methods) |m| {
        lua.pushCFunction(L, m.f);
        c.lua_setfield(L, -2, m.name);
    }
    c.lua_pushboolean(L, 0);
    c.lua_setfield(L, -2, "__metatable"); // getmetatable(t) is false: the proxy's methods stay ours
}

fn checkProxy(L: ?*lua.State, arg: c_int) *const Proxy {
    return @ptrCast(@alignCast(c.luaL_checkudata(L, arg, metatable_name).?));
}

// ---------------------------------------------------------------- metamethods

/// t[k]: nil for keys no stored value can have (nil, NaN, tables...), as in Lua.
fn index(L: ?*lua.State) callconv(.c) c_int {
    const proxy = checkProxy(L, 1);
    var key_scratch: [scratch_size_bytes]u8 = undefined;
    const key = switch (encodeKey(L, 2, &key_scratch)) {
        .bytes => |b| b,
        else => {
            c.lua_pushnil(L);
            return 1;
        },
    };
    var dst: [scratch_size_bytes]u8 = undefined;
    const bytes = read(L, .get, proxy.id, key, &dst);
    if (bytes.len == 0) {
        c.lua_pushnil(L);
        return 1;
    }
    const used = decodeOne(L, bytes);
    if (used != bytes.len) malformed(L);
    return 1;
}

/// t[k] = v: stores v by value; nil deletes k.
fn newIndex(L: ?*lua.State) callconv(.c) c_int {
    const proxy = checkProxy(L, 1);
    c.lua_settop(L, 3);
    var key_scratch: [scratch_size_bytes]u8 = undefined;
    const key = switch (encodeKey(L, 2, &key_scratch)) {
        .bytes => |b| b,
        .nil => raise(L, "table index is nil"),
        .nan => raise(L, "table index is NaN"),
        .bad_type => {
            _ = c.luaL_error(L, "ext.table keys are strings, numbers or booleans, not %s", lua.typeName(L, 2));
            unreachable;
        },
    };
    var value_scratch: [scratch_size_bytes]u8 = undefined;
    var box: ?*crossing.Box = null;
    const value: []const u8 = switch (c.lua_type(L, 3)) {
        c.LUA_TNIL => &.{},
        c.LUA_TBOOLEAN, c.LUA_TNUMBER => encodeScalar(L, 3, &value_scratch),
        c.LUA_TSTRING => if (lua.toSlice(L, 3).?.len + 5 <= value_scratch.len)
            encodeScalar(L, 3, &value_scratch)
        else blk: {
            box = crossing.push(L);
            break :blk encodeTree(L, 3, &box.?.out);
        },
        else => blk: {
            box = crossing.push(L);
            break :blk encodeTree(L, 3, &box.?.out);
        },
    };
    const result = ffi.extSet(proxy.id, key, value);
    if (box) |b| b.release();
    if (result < 0) failure(L, result);
    return 0;
}

/// #t: a border of the integer keys (the host searches like luaH_getn).
fn length(L: ?*lua.State) callconv(.c) c_int {
    const proxy = checkProxy(L, 1);
    const n = ffi.extLen(proxy.id);
    if (n < 0) failure(L, @intCast(@max(n, std.math.minInt(i32))));
    c.lua_pushinteger(L, n);
    return 1;
}

/// pairs(t): next, t, nil. The host walks its keys in insertion order.
fn pairs(L: ?*lua.State) callconv(.c) c_int {
    _ = checkProxy(L, 1);
    lua.pushCFunction(L, next);
    c.lua_pushvalue(L, 1);
    c.lua_pushnil(L);
    return 3;
}

/// next(t, k) for a proxy: the pair after k, or nil after the last.
fn next(L: ?*lua.State) callconv(.c) c_int {
    const proxy = checkProxy(L, 1);
    c.lua_settop(L, 2);
    var key_scratch: [scratch_size_bytes]u8 = undefined;
    const key: []const u8 = if (c.lua_type(L, 2) == c.LUA_TNIL) &.{} else switch (encodeKey(L, 2, &key_scratch)) {
        .bytes => |b| b,
        else => raise(L, "invalid key to 'next'"),
    };
    var dst: [scratch_size_bytes]u8 = undefined;
    const bytes = read(L, .next, proxy.id, key, &dst);
    if (bytes.len == 0) {
        c.lua_pushnil(L);
        return 1;
    }
    const key_len = decodeOne(L, bytes);
    if (key_len + decodeOne(L, bytes[key_len..]) != bytes.len) malformed(L);
    return 2;
}

fn toString(L: ?*lua.State) callconv(.c) c_int {
    _ = checkProxy(L, 1);
    _ = c.lua_getiuservalue(L, 1, 1);
    _ = c.lua_pushfstring(L, "ext.table(\"%s\")", c.lua_tolstring(L, -1, null));
    return 1;
}

// ---------------------------------------------------------------- crossing

const Read = enum { get, next };

/// The host's answer to a get or next of `key` (empty: nothing). It lands in
/// `scratch` when it fits; else in a userdata of the announced size, left on
/// the stack, and the host is asked again. The room always exists before the
/// host writes, so the host holds nothing between two imports, and a
/// finalizer that runs while the room is allocated may cross freely.
fn read(L: ?*lua.State, comptime op: Read, id: u32, key: []const u8, scratch: []u8) []const u8 {
    var dst = scratch;
    var tries: u32 = 0;
    while (true) {
        const n = switch (op) {
            .get => ffi.extGet(id, key, dst),
            .next => ffi.extNext(id, key, dst),
        };
        if (n < 0) failure(L, n);
        const len: u32 = @intCast(n);
        if (len <= dst.len) return dst[0..len];
        tries += 1;
        if (tries == ext_read_tries_max) raise(L, "ext.table: the value kept changing while it was read");
        if (dst.ptr != scratch.ptr) lua.pop(L, 1); // the room that was too small
        const room: [*]u8 = @ptrCast(c.lua_newuserdatauv(L, len, 0).?);
        dst = room[0..len];
    }
}

fn decodeOne(L: ?*lua.State, bytes: []const u8) usize {
    return serializer.decode(L, bytes) catch |e| switch (e) {
        error.Malformed => malformed(L),
        error.TooDeep => raise(L, std.fmt.comptimePrint("ext.table: stored value nested deeper than {d} levels", .{limits.serialize_depth_max})),
        error.OutOfMemory => raise(L, "ext.table: not enough memory for the stored value"),
    };
}

fn malformed(L: ?*lua.State) noreturn {
    raise(L, "ext.table: malformed value in the host's store");
}

fn failure(L: ?*lua.State, code: i32) noreturn {
    if (code == ffi.ext_no_table) raise(L, "ext.table: the host has no such table");
    if (code == ffi.ext_invalid_key) raise(L, "invalid key to 'next'");
    raise(L, "ext.table: the host failed (see the kernel's log)");
}

/// An error with the caller's position, as Lua's own errors have it.
fn raise(L: ?*lua.State, comptime message: [:0]const u8) noreturn {
    _ = c.luaL_error(L, message);
    unreachable;
}

// ---------------------------------------------------------------- encoding

const Key = union(enum) { bytes: []const u8, nil, nan, bad_type };

/// The key at `idx`, normalized as Lua normalizes table keys (a float with
/// an integer value is that integer), encoded into `out` or, when longer,
/// into a userdata pushed on the stack.
fn encodeKey(L: ?*lua.State, idx: c_int, out: *[scratch_size_bytes]u8) Key {
    return switch (c.lua_type(L, idx)) {
        c.LUA_TNIL => .nil,
        c.LUA_TNUMBER => if (c.lua_isinteger(L, idx) == 0 and std.math.isNan(c.lua_tonumberx(L, idx, null)))
            .nan
        else
            .{ .bytes = encodeKeyScalar(L, idx, out) },
        c.LUA_TBOOLEAN => .{ .bytes = encodeKeyScalar(L, idx, out) },
        c.LUA_TSTRING => {
            const s = lua.toSlice(L, idx).?;
            if (s.len + 5 <= out.len) return .{ .bytes = encodeKeyScalar(L, idx, out) };
            const room: [*]u8 = @ptrCast(c.lua_newuserdatauv(L, s.len + 5, 0).?);
            return .{ .bytes = writeString(room[0 .. s.len + 5], s) };
        },
        else => .bad_type,
    };
}

/// A key: a boolean, number (integral floats as integers) or string that fits in `out`.
fn encodeKeyScalar(L: ?*lua.State, idx: c_int, out: []u8) []const u8 {
    if (c.lua_type(L, idx) == c.LUA_TNUMBER and c.lua_isinteger(L, idx) == 0) {
        if (floatToInteger(c.lua_tonumberx(L, idx, null))) |i| return writeInteger(out, i);
    }
    return encodeScalar(L, idx, out);
}

/// A value: a boolean, number (floats stay floats) or string that fits in `out`.
fn encodeScalar(L: ?*lua.State, idx: c_int, out: []u8) []const u8 {
    switch (c.lua_type(L, idx)) {
        c.LUA_TBOOLEAN => {
            out[0] = @intFromEnum(Tag.boolean);
            out[1] = @intFromBool(c.lua_toboolean(L, idx) != 0);
            return out[0..2];
        },
        c.LUA_TNUMBER => {
            if (c.lua_isinteger(L, idx) != 0) return writeInteger(out, c.lua_tointegerx(L, idx, null));
            const f = c.lua_tonumberx(L, idx, null);
            out[0] = @intFromEnum(Tag.float);
            std.mem.writeInt(u64, out[1..9], @bitCast(f), .little);
            return out[0..9];
        },
        c.LUA_TSTRING => return writeString(out, lua.toSlice(L, idx).?),
        else => unreachable,
    }
}

fn writeInteger(out: []u8, i: i64) []const u8 {
    out[0] = @intFromEnum(Tag.integer);
    std.mem.writeInt(i64, out[1..9], i, .little);
    return out[0..9];
}

fn writeString(out: []u8, s: []const u8) []const u8 {
    std.debug.assert(out.len >= s.len + 5);
    out[0] = @intFromEnum(Tag.string);
    std.mem.writeInt(u32, out[1..5], @intCast(s.len), .little);
    @memcpy(out[5..][0..s.len], s);
    return out[0 .. s.len + 5];
}

/// lvm.c's luaV_flttointns with F2Ieq: the integer equal to `f`, if any.
fn floatToInteger(f: f64) ?i64 {
    if (@floor(f) != f) return null; // fractions and NaN
    if (f < -9223372036854775808.0 or f >= 9223372036854775808.0) return null; // and the infinities
    return @intFromFloat(f);
}

/// Tables being encoded (for cycles) and the stack slots of the keys that
/// lead to the value being encoded, for error messages.
const Walk = struct {
    tables: [limits.serialize_depth_max]*const anyopaque = undefined,
    /// keys[0] is the assigned key; keys[d] the key inside the d-th open table.
    keys: [limits.serialize_depth_max + 1]c_int = undefined,
    depth: u32 = 0,
};

/// Encodes the value at `idx` (a table or a long string) into `buf` (a
/// crossing's Box: an error raised here leaves it to the collector);
/// anything that cannot be stored by value raises an error naming the key.
fn encodeTree(L: ?*lua.State, idx: c_int, buf: *Buffer) []const u8 {
    var walk = Walk{};
    walk.keys[0] = 2;
    encodeValue(L, idx, buf, &walk);
    return buf.bytes();
}

fn encodeValue(L: ?*lua.State, idx: c_int, buf: *Buffer, walk: *Walk) void {
    switch (c.lua_type(L, idx)) {
        c.LUA_TBOOLEAN, c.LUA_TNUMBER => {
            var out: [9]u8 = undefined;
            append(L, buf, encodeScalar(L, idx, &out));
        },
        c.LUA_TSTRING => {
            const s = lua.toSlice(L, idx).?;
            append(L, buf, &.{@intFromEnum(Tag.string)});
            buf.appendString(s) catch outOfMemory(L);
        },
        c.LUA_TTABLE => encodeTable(L, idx, buf, walk),
        c.LUA_TNIL => append(L, buf, &.{@intFromEnum(Tag.nil)}),
        c.LUA_TLIGHTUSERDATA => refuse(L, walk, walk.depth, "a light userdata"),
        else => refuse(L, walk, walk.depth, c.lua_pushfstring(L, "a %s", lua.typeName(L, idx))),
    }
}

fn encodeTable(L: ?*lua.State, idx: c_int, buf: *Buffer, walk: *Walk) void {
    if (c.lua_getmetatable(L, idx) != 0) refuse(L, walk, walk.depth, "a table with a metatable (only plain tables are stored)");
    const ptr = c.lua_topointer(L, idx).?;
    for (walk.tables[0..walk.depth]) |ancestor| {
        if (ancestor == ptr) refuse(L, walk, walk.depth, "a table that contains itself (a cycle; tables are stored by value)");
    }
    if (walk.depth == walk.tables.len) refuse(L, walk, walk.depth, std.fmt.comptimePrint("tables nested more than {d} levels deep", .{limits.serialize_depth_max}));
    if (c.lua_checkstack(L, 6) == 0) outOfMemory(L);
    walk.tables[walk.depth] = ptr;
    walk.depth += 1;
    append(L, buf, &.{@intFromEnum(Tag.table)});
    const count_at = buf.len;
    buf.appendU32(0) catch outOfMemory(L);
    var count: u32 = 0;
    c.lua_pushnil(L);
    while (c.lua_next(L, idx) != 0) : (count += 1) {
        const key = c.lua_gettop(L) - 1;
        walk.keys[walk.depth] = key;
        switch (c.lua_type(L, key)) {
            c.LUA_TBOOLEAN, c.LUA_TNUMBER, c.LUA_TSTRING => encodeValue(L, key, buf, walk),
            else => refuse(L, walk, walk.depth - 1, c.lua_pushfstring(L, "a table with a %s as a key (keys are strings, numbers or booleans)", lua.typeName(L, key))),
        }
        encodeValue(L, key + 1, buf, walk);
        lua.pop(L, 1);
    }
    walk.depth -= 1;
    buf.patchU32(count_at, count);
}

fn append(L: ?*lua.State, buf: *Buffer, bytes: []const u8) void {
    buf.append(bytes) catch outOfMemory(L);
}

fn outOfMemory(L: ?*lua.State) noreturn {
    raise(L, "ext.table: not enough memory to encode the value");
}

/// Raises `ext.table("name"): cannot store <what> at key <path>`, the path
/// made of keys[0..=last] (e.g. `cfg.handlers[2]`).
fn refuse(L: ?*lua.State, walk: *const Walk, last: u32, what: [*:0]const u8) noreturn {
    const what_copy = c.lua_pushstring(L, what); // what may live on the stack; keep it there
    c.luaL_where(L, 1);
    _ = c.lua_getiuservalue(L, 1, 1);
    _ = c.lua_pushfstring(L, "ext.table(\"%s\"): cannot store %s at key ", c.lua_tolstring(L, -1, null), what_copy);
    c.lua_rotate(L, -2, 1);
    lua.pop(L, 1); // the name
    var parts: c_int = 2;
    for (walk.keys[0 .. last + 1], 0..) |key, i| {
        pushKeyText(L, key, i == 0);
        parts += 1;
        if (parts >= 16) { // keep the stack small for deep paths
            c.lua_concat(L, parts);
            parts = 1;
        }
    }
    c.lua_concat(L, parts);
    _ = c.lua_error(L);
    unreachable;
}

const keywords = [_][]const u8{
    "and", "break", "do",  "else", "elseif", "end",    "false",  "for",  "function", "goto",  "if",
    "in",  "local", "nil", "not",  "or",     "repeat", "return", "then", "true",     "until", "while",
};

/// `name` (first) or `.name` for identifiers, else `[2]`, `[2.5]`, `["a b"]`, `[true]`.
fn pushKeyText(L: ?*lua.State, idx: c_int, first: bool) void {
    switch (c.lua_type(L, idx)) {
        c.LUA_TSTRING => {
            const s = lua.toSlice(L, idx).?;
            if (isIdentifier(s)) {
                _ = c.lua_pushfstring(L, if (first) "%s" else ".%s", c.lua_tolstring(L, idx, null));
            } else {
                const shown = s[0..@min(s.len, 40)];
                _ = lua.pushSlice(L, shown);
                _ = c.lua_pushfstring(L, "[\"%s%s\"]", c.lua_tolstring(L, -1, null), @as([*:0]const u8, if (shown.len < s.len) "..." else ""));
                c.lua_rotate(L, -2, 1);
                lua.pop(L, 1);
            }
        },
        c.LUA_TNUMBER => if (c.lua_isinteger(L, idx) != 0) {
            _ = c.lua_pushfstring(L, "[%I]", c.lua_tointegerx(L, idx, null));
        } else {
            _ = c.lua_pushfstring(L, "[%f]", c.lua_tonumberx(L, idx, null));
        },
        c.LUA_TBOOLEAN => _ = lua.pushSlice(L, if (c.lua_toboolean(L, idx) != 0) "[true]" else "[false]"),
        else => _ = c.lua_pushfstring(L, "[%s]", lua.typeName(L, idx)),
    }
}

fn isIdentifier(s: []const u8) bool {
    if (s.len == 0 or std.ascii.isDigit(s[0])) return false;
    for (s) |ch| if (!(std.ascii.isAlphanumeric(ch) or ch == '_')) return false;
    for (keywords) |k| if (std.mem.eql(u8, k, s)) return false;
    return true;
}

// ---------------------------------------------------------------- tests

const harness = @import("test_harness.zig");

fn testState() ?*lua.State {
    const L = harness.newState();
    crossing.useHeap(&harness.heap);
    open(L);
    for (&ffi.native.ext_slots) |*s| s.value_len = 0;
    // ext.table's host call: the reply is the table id 7.
    ffi.native.host_reply = &.{ 0x02, 7, 0, 0, 0, 0, 0, 0, 0 };
    ffi.native.host_reply_is_error = false;
    return L;
}

const run = harness.run;

test "values cross by value; integral float keys are integers" {
    const L = testState();
    defer c.lua_close(L);
    try run(L,
        \\local t = ext.table("t")
        \\assert(ext.table("t") == t and tostring(t) == 'ext.table("t")')
        \\t[2.0] = "two"; t.x = {1, {y = true}}; t[1.5] = 3.25
        \\assert(t[2] == "two" and t[1.5] == 3.25 and t.x[2].y == true)
        \\local copy = t.x; copy[1] = 99
        \\assert(t.x[1] == 1)
        \\assert(t[nil] == nil and t[0/0] == nil and t[{}] == nil)
        \\t.x = nil
        \\assert(t.x == nil)
    );
    // The key 2.0 crossed as the integer 2.
    const want = [_]u8{ 0x02, 2, 0, 0, 0, 0, 0, 0, 0 };
    var found = false;
    for (ffi.native.ext_slots) |s| found = found or (s.value_len > 0 and std.mem.eql(u8, s.key[0..s.key_len], &want));
    try std.testing.expect(found);
}

test "what cannot be stored is refused with the key's path" {
    const L = testState();
    defer c.lua_close(L);
    try run(L,
        \\local t = ext.table("cfg")
        \\local function fails(f, pattern)
        \\  local ok, msg = pcall(f)
        \\  assert(not ok and msg:find(pattern, 1, true), msg)
        \\end
        \\fails(function() t.f = print end, 'ext.table("cfg"): cannot store a function at key f')
        \\fails(function() t.a = {b = {[3] = coroutine or print}} end, "at key a.b[3]")
        \\local loop = {}; loop.me = loop
        \\fails(function() t["my key"] = {loop} end, 'a table that contains itself')
        \\fails(function() t[1] = setmetatable({}, {}) end, "a table with a metatable")
        \\fails(function() t[true] = {[{}] = 1} end, "a table as a key")
        \\fails(function() t[nil] = 1 end, "table index is nil")
        \\fails(function() t[0/0] = 1 end, "table index is NaN")
        \\fails(function() t[print] = 1 end, "keys are strings, numbers or booleans")
    );
}

test "values longer than the scratch are read whole, also from finalizers" {
    const L = testState();
    defer c.lua_close(L);
    try run(L,
        \\local t = ext.table("t")
        \\t.big = string.rep("x", 600)
        \\t.other = {string.rep("y", 700)}
        \\local calls, good = 0, 0
        \\for i = 1, 3000 do
        \\  setmetatable({}, {__gc = function()
        \\    calls = calls + 1
        \\    if t.other[1] == string.rep("y", 700) then good = good + 1 end
        \\  end})
        \\  assert(t.big == string.rep("x", 600))
        \\end
        \\collectgarbage()
        \\assert(calls > 0 and good == calls, good .. " of " .. calls)
    );
}

test "a refused store frees what it encoded" {
    const L = testState();
    defer c.lua_close(L);
    try run(L,
        \\t = ext.table("t")
        \\for i = 1, 100 do
        \\  local ok, msg = pcall(function() t.x = {string.rep("z", 200), print} end)
        \\  assert(not ok and msg:find("cannot store a function"), msg)
        \\end
        \\collectgarbage()
    );
    const used = harness.heap.used_bytes;
    try run(L,
        \\for i = 1, 2000 do
        \\  assert(not pcall(function() t.x = {string.rep("z", 200), print} end))
        \\end
        \\collectgarbage()
    );
    try std.testing.expect(harness.heap.used_bytes <= used + 4096);
}

test "# and pairs walk the host's table, long pairs included" {
    const L = testState();
    defer c.lua_close(L);
    try run(L,
        \\local t = ext.table("t")
        \\assert(#t == 0)
        \\t[1] = "a"; t[2] = "b"; t[3] = string.rep("c", 400); t.name = "n"
        \\assert(#t == 3)
        \\local keys, values = {}, {}
        \\for k, v in pairs(t) do keys[#keys + 1] = k; values[#values + 1] = v end
        \\assert(#keys == 4 and keys[1] == 1 and keys[3] == 3 and keys[4] == "name")
        \\assert(values[3] == string.rep("c", 400) and values[4] == "n")
        \\t[2] = nil
        \\assert(#t == 1)
        \\assert(getmetatable(t) == false)
    );
    try run(L,
        \\local t = ext.table("t")
        \\local f = pairs(t)
        \\local ok, msg = pcall(f, t, "missing")
        \\assert(not ok and msg:find("invalid key to 'next'"), msg)
        \\ok, msg = pcall(f, t, {})
        \\assert(not ok and msg:find("invalid key to 'next'"), msg)
        \\ok, msg = pcall(f, t, string.rep("k", 300))
        \\assert(not ok and msg:find("invalid key to 'next'"), msg)
        \\assert(f(t, nil) == 1)
    );
}

test "a failing host is an error that says how it failed" {
    const L = testState();
    defer c.lua_close(L);
    try run(L, "t = ext.table('t'); t.x = 1");
    const cases = [_]struct { code: i32, message: []const u8 }{
        .{ .code = ffi.ext_no_table, .message = "ext.table: the host has no such table" },
        .{ .code = ffi.ext_failed, .message = "ext.table: the host failed (see the kernel's log)" },
    };
    for (cases) |case| {
        ffi.native.ext_fail = case.code;
        defer ffi.native.ext_fail = 0;
        for ([_][]const u8{ "return t.x", "t.x = 2", "return #t", "for k in pairs(t) do end" }) |code| {
            try std.testing.expectEqual(c.LUA_OK, c.luaL_loadbufferx(L, code.ptr, code.len, "=t", "t"));
            try std.testing.expect(lua.pcall(L, 0, 0, 0) != c.LUA_OK);
            try std.testing.expect(std.mem.endsWith(u8, lua.toSlice(L, -1).?, case.message));
            lua.pop(L, 1);
        }
    }
}

test "a malformed or too deep stored value is refused" {
    const L = testState();
    defer c.lua_close(L);
    try run(L, "t = ext.table('t'); t.bad = 1; t.deep = 1");
    // Overwrite the stored bytes, as a broken host would.
    for (&ffi.native.ext_slots) |*s| {
        if (s.value_len == 0) continue;
        if (std.mem.endsWith(u8, s.key[0..s.key_len], "bad")) {
            s.value[0] = 0x42;
            s.value_len = 1;
        } else {
            const level = [_]u8{ 0x05, 1, 0, 0, 0, 0x02, 1, 0, 0, 0, 0, 0, 0, 0 };
            for (0..70) |i| @memcpy(s.value[i * level.len ..][0..level.len], &level);
            s.value[70 * level.len] = 0x00;
            s.value_len = 70 * level.len + 1;
        }
    }
    try run(L,
        \\local ok, msg = pcall(function() return t.bad end)
        \\assert(not ok and msg:find("ext.table: malformed value in the host's store", 1, true), msg)
        \\ok, msg = pcall(function() return t.deep end)
        \\assert(not ok and msg:find("nested deeper than 64 levels", 1, true), msg)
        \\ok, msg = pcall(pairs(t), t)
        \\assert(not ok and msg:find("malformed value", 1, true), msg)
    );
}

test "ext.tables and ext.drop ask the host; names are checked first" {
    const L = testState();
    defer c.lua_close(L);
    // {"a", "b"}
    ffi.native.host_reply = &.{ 0x05, 2, 0, 0, 0, 0x02, 1, 0, 0, 0, 0, 0, 0, 0, 0x04, 1, 0, 0, 0, 'a', 0x02, 2, 0, 0, 0, 0, 0, 0, 0, 0x04, 1, 0, 0, 0, 'b' };
    try run(L, "local n = ext.tables(); assert(#n == 2 and n[2] == 'b')");
    try std.testing.expectEqualStrings("lua_wasm.ext.tables", ffi.native.host_last_name[0..ffi.native.host_last_name_len]);
    ffi.native.host_reply = &.{ 0x01, 1 };
    try run(L, "assert(ext.drop('t') == true)");
    try std.testing.expectEqualStrings("lua_wasm.ext.drop", ffi.native.host_last_name[0..ffi.native.host_last_name_len]);
    const calls = ffi.native.host_calls;
    ffi.native.host_reply = "store is locked";
    ffi.native.host_reply_is_error = true;
    try run(L,
        \\local ok, msg = pcall(ext.drop, "t")
        \\assert(not ok and msg:find("ext.drop: store is locked", 1, true), msg)
        \\ok, msg = pcall(ext.tables)
        \\assert(not ok and msg:find("ext.tables: store is locked", 1, true), msg)
        \\ok, msg = pcall(ext.table, "new")
        \\assert(not ok and msg:find("ext.table: store is locked", 1, true), msg)
        \\ok, msg = pcall(ext.table, "")
        \\assert(not ok and msg:find("a table name is 1 to 256 bytes long", 1, true), msg)
        \\ok, msg = pcall(ext.drop, string.rep("n", 257))
        \\assert(not ok and msg:find("a table name is 1 to 256 bytes long", 1, true), msg)
        \\ok, msg = pcall(ext.table, 7)
        \\assert(not ok and msg:find("string expected, got number", 1, true), msg)
    );
    try std.testing.expectEqual(calls + 3, ffi.native.host_calls);
    ffi.native.host_reply = &.{ 0x04, 1, 0, 0, 0, 'x' };
    ffi.native.host_reply_is_error = false;
    try run(L,
        \\local ok, msg = pcall(ext.table, "odd")
        \\assert(not ok and msg:find("the host gave no table id", 1, true), msg)
    );
}

test "a value the crossing's heap cannot hold is refused with a memory error" {
    const L = testState();
    defer c.lua_close(L);
    var tiny_region: [256]u8 align(8) = undefined;
    var tiny = @import("allocator.zig").Tlsf.init(&tiny_region);
    try run(L, "t = ext.table('t')");
    crossing.useHeap(&tiny);
    defer crossing.useHeap(&harness.heap);
    try run(L,
        \\local ok, msg = pcall(function() t.x = {1, 2, 3} end)
        \\assert(not ok and msg:find("ext.table: not enough memory to encode the value", 1, true), msg)
        \\t.y = 5
        \\assert(t.y == 5)
    );
}
