//! Host calls: a Lua function that hands its arguments to a named function
//! of the host and returns the host's reply (docs/ABI.md, "Host calls").
//!
//! The Lua features built on it (display and help, require) are
//! Lua modules the host supplies (lua_wasm_kernel/lua/), loaded on first
//! use. Until then the globals are light C stubs here, which cost neither
//! static data nor heap: the default heap is small.
const std = @import("std");
const assert = std.debug.assert;
const lua = @import("lua.zig");
const c = lua.c;
const ffi = @import("ffi.zig");
const limits = @import("limits.zig");
const output = @import("output.zig");
const serializer = @import("serializer.zig");
const interrupt = @import("interrupt.zig");
const Buffer = @import("reply.zig").Buffer;
const crossing = @import("crossing.zig");
const libs = @import("libs.zig");

/// The host function that returns a module's source (hostcall.py).
const module_source_function = "lua_wasm.module";
/// Chunk names of the modules start with this; `raise` skips their frames.
const module_chunk_prefix = "=lua-wasm/";
/// Registry field: the loaded modules, by name.
const modules_key = "lua_wasm.modules";

const display_functions = [_][:0]const u8{
    "html", "markdown", "latex", "svg", "png", "json", "text", "data", "update", "clear", "page",
};

/// Installs host_call and raise in the prelude's helper table (on top of
/// the stack), and the stubs: display, help, and require's searcher.
/// A protected call (libs.open).
pub fn open(L: ?*lua.State) void {
    const helpers = c.lua_gettop(L);
    lua.pushCFunction(L, hostCall);
    c.lua_setfield(L, helpers, "host_call");
    lua.pushCFunction(L, raise);
    c.lua_setfield(L, helpers, "raise");
    lua.newTable(L);
    c.lua_setfield(L, c.LUA_REGISTRYINDEX, modules_key);

    // display: a table of stubs, callable.
    c.lua_createtable(L, 0, display_functions.len);
    inline for (display_functions) |f| setStub(L, "display", f, f);
    c.lua_createtable(L, 0, 1);
    lua.pushCFunction(L, stubMethod("display", "call"));
    c.lua_setfield(L, -2, "__call");
    _ = c.lua_setmetatable(L, -2);
    _ = c.luaL_getsubtable(L, c.LUA_REGISTRYINDEX, c.LUA_LOADED_TABLE);
    c.lua_pushvalue(L, -2);
    c.lua_setfield(L, -2, "display");
    lua.pop(L, 1);
    c.lua_setglobal(L, "display");
    lua.pushCFunction(L, stub("display", "help"));
    c.lua_setglobal(L, "help");

    // package: the notebook searcher replaces the file searcher. loadlib's
    // C searchers stay: they find no file (lua_user.h), so require's
    // not-found message lists package.cpath's templates as Lua's does.
    if (c.lua_getglobal(L, "package") == c.LUA_TTABLE) {
        _ = lua.pushSlice(L, "./?.lua;./?/init.lua");
        c.lua_setfield(L, -2, "path");
        setStub(L, "require", "searchpath", "searchpath");
        if (c.lua_getfield(L, -1, "searchers") == c.LUA_TTABLE) {
            lua.pushCFunction(L, stub("require", "searcher"));
            c.lua_rawseti(L, -2, 2);
        }
        lua.pop(L, 1);
    }
    lua.pop(L, 1);
    assert(c.lua_gettop(L) == helpers);
}

/// t[key] = a stub for module.function, t on top of the stack.
fn setStub(L: ?*lua.State, comptime module: [:0]const u8, comptime key: [:0]const u8, comptime function: [:0]const u8) void {
    lua.pushCFunction(L, stub(module, function));
    c.lua_setfield(L, -2, key);
}

/// A C function that calls module.function with its arguments.
fn stub(comptime module: [:0]const u8, comptime function: [:0]const u8) lua.CFn {
    return Stub(module, function, 1).call;
}

/// The same, for a metamethod: drops its first argument (the table).
fn stubMethod(comptime module: [:0]const u8, comptime function: [:0]const u8) lua.CFn {
    return Stub(module, function, 2).call;
}

fn Stub(comptime module: [:0]const u8, comptime function: [:0]const u8, comptime first_arg: c_int) type {
    return struct {
        fn call(L: ?*lua.State) callconv(.c) c_int {
            c.lua_settop(L, @max(c.lua_gettop(L), first_arg - 1));
            pushModule(L, module);
            _ = c.lua_getfield(L, -1, function);
            c.lua_rotate(L, -2, -1);
            lua.pop(L, 1); // the module table
            lua.insert(L, first_arg); // the function, below the arguments
            lua.call(L, c.lua_gettop(L) - first_arg, c.LUA_MULTRET);
            return c.lua_gettop(L) - (first_arg - 1);
        }
    };
}

/// Pushes the module `name`, loading it on first use: the host supplies its
/// source, which runs as the chunk "=lua-wasm/<name>" with (host_call,
/// helpers) and returns the module's table.
fn pushModule(L: ?*lua.State, comptime name: [:0]const u8) void {
    _ = c.lua_getfield(L, c.LUA_REGISTRYINDEX, modules_key);
    const modules = c.lua_gettop(L);
    if (c.lua_getfield(L, modules, name) == c.LUA_TTABLE) {
        lua.insert(L, modules);
        lua.pop(L, 1);
        return;
    }
    lua.pop(L, 1);
    lua.pushCFunction(L, hostCall);
    _ = lua.pushSlice(L, module_source_function);
    _ = lua.pushSlice(L, name);
    lua.call(L, 2, 2);
    if (c.lua_toboolean(L, -2) == 0 or c.lua_type(L, -1) != c.LUA_TSTRING) {
        _ = c.luaL_error(L, "lua-wasm: cannot load its module '%s': %s", name.ptr, c.luaL_tolstring(L, -1, null));
    }
    const source = lua.toSlice(L, -1).?;
    if (c.luaL_loadbufferx(L, source.ptr, source.len, module_chunk_prefix ++ name, "t") != c.LUA_OK)
        _ = c.lua_error(L);
    lua.pushCFunction(L, hostCall);
    _ = c.lua_getfield(L, c.LUA_REGISTRYINDEX, libs.prelude_key);
    lua.call(L, 2, 1);
    if (c.lua_type(L, -1) != c.LUA_TTABLE) _ = c.luaL_error(L, "lua-wasm: its module '%s' returned no table", name.ptr);
    c.lua_pushvalue(L, -1);
    c.lua_setfield(L, modules, name);
    lua.insert(L, modules);
    c.lua_settop(L, modules);
}

/// raise(message): a Lua error at the first caller outside the host's Lua
/// modules and C functions, so a module's error names the user's line,
/// however many of the module's own frames (or stubs) lie between.
fn raise(L: ?*lua.State) callconv(.c) c_int {
    c.luaL_checkany(L, 1);
    c.lua_settop(L, 1);
    var ar: c.lua_Debug = undefined;
    var level: c_int = 1;
    while (c.lua_getstack(L, level, &ar) != 0) : (level += 1) {
        _ = c.lua_getinfo(L, "S", &ar);
        if (std.mem.eql(u8, std.mem.span(ar.what), "C")) continue;
        if (std.mem.startsWith(u8, ar.source[0..ar.srclen], module_chunk_prefix)) continue;
        c.luaL_where(L, level);
        break;
    } else _ = lua.pushSlice(L, "");
    lua.insert(L, 1);
    c.lua_concat(L, 2);
    return c.lua_error(L);
}

/// host_call(name, ...) -> true, reply | false, message
/// Flushes pending output first, so output and what the host shows stay in
/// order. An interrupt that arrives during the call is raised here.
///
/// Re-entrant: a finalizer may make a host call at any allocation point of
/// another, so the arguments and the reply belong to this call's Box, and
/// between lw_host_call and lw_host_take nothing runs that could run Lua.
pub fn hostCall(L: ?*lua.State) callconv(.c) c_int {
    const name = lua.checkSlice(L, 1);
    if (name.len > limits.host_call_name_size_max_bytes)
        _ = c.luaL_argerror(L, 1, "host function name too long");
    const count = c.lua_gettop(L) - 1;
    const box = crossing.push(L); // may run finalizers: nothing is in flight yet
    encodeArgs(L, count, &box.out) catch {
        box.release();
        lua.raise(L, "host call: not enough memory for the arguments");
    };
    output.flush();
    const result = ffi.hostCall(name, box.out.bytes());
    box.release();
    const len: u32 = if (result >= 0) @intCast(result) else @intCast(-(result + 1));
    // The host holds the reply until the take: the room for it comes from
    // the heap without a GC step (no finalizer, no error can come between).
    const room = box.reserve(L, len) orelse {
        _ = ffi.hostTake(&.{}); // the host forgets the reply
        // Nothing is pending now: let Lua fail the same allocation, so the
        // error is a memory error (status out_of_memory), as Lua's own are.
        _ = c.lua_newuserdatauv(L, len, 0);
        _ = c.luaL_error(L, "host call: not enough memory for a reply of %d bytes", @as(c_int, @intCast(@min(len, std.math.maxInt(c_int)))));
        unreachable;
    };
    const taken = ffi.hostTake(room);
    if (interrupt.requested()) {
        box.release();
        interrupt.arm(L);
        lua.raise(L, "interrupted!");
    }
    if (!taken) {
        box.release();
        lua.raise(L, "host call: the host's reply was lost");
    }
    c.lua_pushboolean(L, @intFromBool(result >= 0));
    if (result < 0) {
        _ = lua.pushSlice(L, room);
        box.release();
        return 2;
    }
    // Decoding allocates (finalizers may cross meanwhile) and may raise:
    // then the Box's __gc frees the room.
    const used = serializer.decode(L, room) catch |e| switch (e) {
        error.Malformed => lua.raise(L, "host call: malformed reply"),
        error.TooDeep => lua.raise(L, std.fmt.comptimePrint("host call: reply nested deeper than {d} levels", .{limits.serialize_depth_max})),
        error.OutOfMemory => lua.raise(L, "host call: not enough memory for the reply"),
    };
    if (used != len) lua.raise(L, "host call: malformed reply (trailing bytes)");
    box.release();
    return 2;
}

/// Arguments (stack slots 2 to count + 1): u32 count, then each value in the
/// serializer's format.
fn encodeArgs(L: ?*lua.State, count: c_int, buf: *Buffer) error{OutOfMemory}!void {
    assert(count >= 0);
    try buf.appendU32(@intCast(count));
    var i: c_int = 2;
    while (i <= count + 1) : (i += 1) try serializer.encode(L, i, buf);
}

// ---------------------------------------------------------------- tests

const harness = @import("test_harness.zig");

fn testState() ?*lua.State {
    const L = harness.newState();
    crossing.useHeap(&harness.heap);
    lua.pushCFunction(L, hostCall);
    c.lua_setglobal(L, "host_call");
    return L;
}

const run = harness.run;

test "a host call sends name and arguments, and decodes the reply" {
    const L = testState();
    defer c.lua_close(L);
    // Reply: the table {answer = 42}.
    ffi.native.host_reply = &.{ 0x05, 1, 0, 0, 0, 0x04, 6, 0, 0, 0, 'a', 'n', 's', 'w', 'e', 'r', 0x02, 42, 0, 0, 0, 0, 0, 0, 0 };
    ffi.native.host_reply_is_error = false;
    ffi.native.captured_len = 0;
    try run(L,
        \\print("before")
        \\local ok, r = host_call("echo", 7, nil, "s")
        \\assert(ok == true and r.answer == 42)
    );
    try std.testing.expectEqualStrings("echo", ffi.native.host_last_name[0..ffi.native.host_last_name_len]);
    // u32 count 3, integer 7, nil, string "s".
    const want = [_]u8{ 3, 0, 0, 0, 0x02, 7, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x04, 1, 0, 0, 0, 's' };
    try std.testing.expectEqualSlices(u8, &want, ffi.native.host_last_args[0..ffi.native.host_last_args_len]);
    // print's output reached the host before the call did.
    try std.testing.expectEqualStrings("before\n", ffi.native.captured[0..ffi.native.captured_len]);
    try std.testing.expectEqual(ffi.native.flushes, ffi.native.host_flushes_at_call);
}

test "an error reply comes back as false and its message" {
    const L = testState();
    defer c.lua_close(L);
    ffi.native.host_reply = "no such thing";
    ffi.native.host_reply_is_error = true;
    try run(L,
        \\local ok, msg = host_call("missing")
        \\assert(ok == false and msg == "no such thing")
    );
    ffi.native.host_reply = &.{0x42};
    ffi.native.host_reply_is_error = false;
    try run(L,
        \\local ok, msg = pcall(host_call, "bad")
        \\assert(not ok and msg:find("malformed reply"))
    );
}

test "a host call in a finalizer, at any allocation point of another, keeps each reply apart" {
    const L = testState();
    defer c.lua_close(L);
    ffi.native.host_reply = &.{ 0x05, 1, 0, 0, 0, 0x04, 6, 0, 0, 0, 'a', 'n', 's', 'w', 'e', 'r', 0x02, 42, 0, 0, 0, 0, 0, 0, 0 };
    ffi.native.host_reply_is_error = false;
    try run(L,
        \\local calls, good = 0, 0
        \\for i = 1, 3000 do
        \\  setmetatable({}, {__gc = function()
        \\    calls = calls + 1
        \\    local ok, r = host_call("echo", {i, "from a finalizer"})
        \\    if ok and r.answer == 42 then good = good + 1 end
        \\  end})
        \\  local ok, r = host_call("echo", i, {"a", "table"})
        \\  assert(ok == true and r.answer == 42)
        \\end
        \\collectgarbage()
        \\assert(calls > 0 and good == calls, good .. " of " .. calls)
    );
}

var huge_reply: [2 << 20]u8 = undefined;

test "a reply too large for the heap is an error, and the host forgets it" {
    const L = testState();
    defer c.lua_close(L);
    ffi.native.host_reply = &huge_reply; // larger than the test heap
    ffi.native.host_reply_is_error = false;
    try run(L,
        \\local ok, msg = pcall(host_call, "huge")
        \\assert(not ok and msg == "not enough memory", msg)
    );
    try std.testing.expect(ffi.native.host_pending == null);
    ffi.native.host_reply = &.{ 0x02, 7, 0, 0, 0, 0, 0, 0, 0 };
    try run(L,
        \\local ok, r = host_call("small")
        \\assert(ok and r == 7)
    );
}

/// The host's Lua module for the stubs (display and require share it here).
const test_module_source =
    \\local host_call, helpers = ...
    \\return {
    \\  html = function(s) return "html:" .. s end,
    \\  call = function(...) return select("#", ...), ... end,
    \\  help = function(x) return "help:" .. type(x) end,
    \\  text = function() helpers.raise("bad text") end,
    \\  page = function() return type(host_call), type(helpers.render) end,
    \\  searcher = function(name) return function() return "loaded " .. name end, ":notebook:" end,
    \\  searchpath = function(name, path) return nil, "no " .. name .. " in " .. path end,
    \\}
;
var test_module: []const u8 = "";
var test_module_reply: [1024]u8 = undefined;

fn moduleReply(name: []const u8) ?[]const u8 {
    if (!std.mem.eql(u8, name, module_source_function)) return null;
    test_module_reply[0] = 0x04;
    std.mem.writeInt(u32, test_module_reply[1..5], @intCast(test_module.len), .little);
    @memcpy(test_module_reply[5..][0..test_module.len], test_module);
    return test_module_reply[0 .. 5 + test_module.len];
}

fn engineWithModule(source: []const u8) ?*lua.State {
    const L = harness.engine();
    test_module = source;
    ffi.native.host_reply_for = moduleReply;
    return L;
}

test "display's stubs load the host's module on first use, then call into it" {
    const L = engineWithModule(test_module_source);
    try run(L,
        \\assert(display.html("x") == "html:x")
        \\assert(display.html("y") == "html:y")
        \\local n, a, b = display("a", "b")
        \\assert(n == 2 and a == "a" and b == "b")
        \\assert(help(print) == "help:function" and help() == "help:nil")
        \\local h, r = display.page()
        \\assert(h == "function" and r == "function")
        \\assert(package.loaded.display == display)
    );
    // One host call: the module's source; then the module is kept.
    try std.testing.expectEqual(@as(usize, 1), ffi.native.host_calls);
    try std.testing.expectEqualSlices(u8, &.{ 1, 0, 0, 0, 0x04, 7, 0, 0, 0, 'd', 'i', 's', 'p', 'l', 'a', 'y' }, ffi.native.host_last_args[0..ffi.native.host_last_args_len]);
}

test "require asks the notebook's searcher, through the host's module" {
    const L = engineWithModule(test_module_source);
    try run(L,
        \\assert(require("mymod") == "loaded mymod")
        \\assert(package.path == "./?.lua;./?/init.lua")
        \\local none, msg = package.searchpath("x", "p")
        \\assert(none == nil and msg == "no x in p")
    );
}

test "a module's error names the user's line, past the module's frames" {
    const L = engineWithModule(test_module_source);
    try run(L,
        \\local ok, e = pcall(function()
        \\  display.text()
        \\end)
        \\assert(not ok and e == "test:2: bad text", e)
        \\ok, e = pcall(display.text)
        \\assert(e == "test:5: bad text", e)
    );
}

test "a module the host cannot supply is an error naming it" {
    var L = engineWithModule("return 42");
    try run(L,
        \\local ok, e = pcall(display.html, "x")
        \\assert(e:find("lua-wasm: its module 'display' returned no table", 1, true), e)
    );
    L = engineWithModule("return {");
    try run(L,
        \\local ok, e = pcall(display.html, "x")
        \\assert(e:find("lua-wasm/display:1:", 1, true), e)
    );
    L = engineWithModule("");
    ffi.native.host_reply_for = null;
    ffi.native.host_reply = "no such module";
    ffi.native.host_reply_is_error = true;
    try run(L,
        \\local ok, e = pcall(display.html, "x")
        \\assert(e == "lua-wasm: cannot load its module 'display': no such module", e)
    );
}
