//! Eval status codes and the message handler that captures a traceback.
const lua = @import("lua.zig");
const c = lua.c;

/// Status of an eval, returned to the host (docs/ABI.md, "Status codes").
pub const Status = enum(i32) {
    ok = 0,
    syntax_error = 1,
    runtime_error = 2,
    out_of_memory = 3,
    interrupted = 4,
    bad_input = 5,

    /// Maps a Lua status (LUA_ERRRUN, ...) to ours.
    pub fn fromLua(status: c_int, interrupted: bool) Status {
        return switch (status) {
            c.LUA_OK => .ok,
            c.LUA_ERRSYNTAX => .syntax_error,
            c.LUA_ERRMEM => .out_of_memory,
            else => if (interrupted) .interrupted else .runtime_error,
        };
    }
};

/// Registry field where the message handler leaves the last traceback.
pub const traceback_key = "lua_wasm.traceback";

/// Message handler for lua_pcall: turns any error object into a message,
/// as lua.c does, and stores the stack traceback beside it.
pub fn messageHandler(L: ?*lua.State) callconv(.c) c_int {
    if (c.lua_type(L, 1) != c.LUA_TSTRING) {
        if (c.luaL_callmeta(L, 1, "__tostring") != 0 and c.lua_type(L, -1) == c.LUA_TSTRING) {
            c.lua_copy(L, -1, 1);
        } else {
            _ = c.lua_pushfstring(L, "(error object is a %s value)", lua.typeName(L, 1));
            c.lua_copy(L, -1, 1);
        }
        c.lua_settop(L, 1);
    }
    c.luaL_traceback(L, L, null, 1);
    _ = c.lua_setfield(L, c.LUA_REGISTRYINDEX, traceback_key);
    return 1;
}
