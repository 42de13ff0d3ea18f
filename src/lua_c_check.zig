//! Unit tests only: src/lua_c.zig's hand-written declarations against
//! translate-c's view of the same headers (src/lua_api.h, for the host).
//! Every function's signature, every type's layout, every constant must
//! agree; src/lua_c_layout.c checks the wasm target's layouts at lw_init.
const std = @import("std");
const lua_c = @import("lua_c.zig");
const translated = @import("lua_api_translated");

/// lua_c.zig's names that translate-c spells otherwise or does not have.
const own_names = [_][]const u8{
    "CallInfo", // translate-c: struct_CallInfo_1, reached through lua_Debug.i_ci
    "layoutMismatch",
};

/// Whether two types have the same shape as C sees it: same layout, same
/// signature, pointers to the same shapes. Opaque types match by C name.
fn same(comptime A: type, comptime B: type) bool {
    @setEvalBranchQuota(100_000);
    if (A == B) return true;
    const a = @typeInfo(A);
    const b = @typeInfo(B);
    if (std.meta.activeTag(a) != std.meta.activeTag(b)) return false;
    return switch (a) {
        .@"opaque" => std.mem.eql(u8, cName(@typeName(A)), cName(@typeName(B))),
        .optional => |o| same(o.child, b.optional.child),
        .array => |r| r.len == b.array.len and same(r.child, b.array.child),
        .pointer => |p| p.size == b.pointer.size and p.attrs.@"const" == b.pointer.attrs.@"const" and
            p.attrs.@"volatile" == b.pointer.attrs.@"volatile" and same(p.child, b.pointer.child),
        .@"fn" => |f| sameFn(f, b.@"fn"),
        .@"struct" => |s| s.layout == .@"extern" and b.@"struct".layout == .@"extern" and sameFields(A, B),
        .@"union" => |u| u.layout == .@"extern" and b.@"union".layout == .@"extern" and sameFields(A, B),
        else => false,
    };
}

fn sameFn(comptime f: std.builtin.Type.Fn, comptime g: std.builtin.Type.Fn) bool {
    if (!std.meta.eql(f.attrs, g.attrs) or f.param_types.len != g.param_types.len) return false;
    inline for (f.param_types, g.param_types) |p, q| if (!same(p.?, q.?)) return false;
    return same(f.return_type.?, g.return_type.?);
}

/// Same size, and the same named fields at the same offsets with the same
/// shapes (void fields, which take no space, left out).
fn sameFields(comptime A: type, comptime B: type) bool {
    if (@sizeOf(A) != @sizeOf(B) or @alignOf(A) != @alignOf(B)) return false;
    const names_a = fieldNames(A);
    const names_b = fieldNames(B);
    if (names_a.len != names_b.len) return false;
    inline for (names_a, names_b) |na, nb| {
        if (!std.mem.eql(u8, na, nb)) return false;
        if (!same(@FieldType(A, na), @FieldType(B, nb))) return false;
        if (@typeInfo(A) == .@"struct" and @offsetOf(A, na) != @offsetOf(B, nb)) return false;
    }
    return true;
}

fn fieldNames(comptime T: type) []const []const u8 {
    const all = switch (@typeInfo(T)) {
        .@"struct" => |s| s.field_names,
        .@"union" => |u| u.field_names,
        else => unreachable,
    };
    var names: []const []const u8 = &.{};
    inline for (all) |name| {
        if (@FieldType(T, name) != void) names = names ++ .{@as([]const u8, name)};
    }
    return names;
}

/// A type's C name: the last part of its Zig name, without translate-c's
/// `struct_` prefix and `_<n>` suffix.
fn cName(comptime zig_name: []const u8) []const u8 {
    var name: []const u8 = zig_name[if (std.mem.lastIndexOfScalar(u8, zig_name, '.')) |i| i + 1 else 0..];
    if (std.mem.startsWith(u8, name, "struct_")) name = name["struct_".len..];
    if (std.mem.lastIndexOfScalar(u8, name, '_')) |i| {
        if (i + 1 < name.len and std.ascii.isDigit(name[i + 1])) name = name[0..i];
    }
    return name;
}

fn isOwn(comptime name: []const u8) bool {
    inline for (own_names) |own| if (std.mem.eql(u8, own, name)) return true;
    return false;
}

/// Why `name` differs from its translation, or null when it agrees.
fn mismatch(comptime name: []const u8) ?[]const u8 {
    if (isOwn(name)) return null;
    if (!@hasDecl(translated, name)) return "not in the headers";
    const mine = @field(lua_c, name);
    const theirs = @field(translated, name);
    if (@TypeOf(mine) == type) return if (same(mine, theirs)) null else "another layout";
    switch (@typeInfo(@TypeOf(mine))) {
        .@"fn" => return if (same(@TypeOf(mine), @TypeOf(theirs))) null else "another signature",
        .pointer => return if (std.mem.eql(u8, mine, theirs)) null else "another string",
        else => {
            if (@TypeOf(mine) != comptime_int and !same(@TypeOf(mine), @TypeOf(theirs))) return "another type";
            return if (@as(i128, mine) == @as(i128, theirs)) null else "another value";
        },
    }
}

test "src/lua_c.zig declares Lua's C API as the headers do" {
    var failures: usize = 0;
    inline for (@typeInfo(lua_c).@"struct".decl_names) |name| {
        if (comptime mismatch(name)) |why| {
            std.debug.print("src/lua_c.zig: {s}: {s}\n", .{ name, why });
            failures += 1;
        }
    }
    try std.testing.expectEqual(@as(usize, 0), failures);
}

test "the check tells shapes apart" {
    try std.testing.expect(comptime same(translated.lua_Debug, lua_c.lua_Debug));
    try std.testing.expect(comptime !same(translated.lua_Debug, lua_c.luaL_Buffer));
    try std.testing.expect(comptime !same(@TypeOf(translated.lua_settop), @TypeOf(translated.lua_rotate)));
    try std.testing.expect(comptime !same(@TypeOf(lua_c.lua_pushinteger), @TypeOf(translated.lua_pushnumber)));
    try std.testing.expect(comptime !same(*lua_c.lua_State, *lua_c.CallInfo));
    const Shifted = extern struct { a: c_int, b: c_long };
    const Other = extern struct { a: c_long, b: c_long };
    try std.testing.expect(comptime !same(Shifted, Other));
}
