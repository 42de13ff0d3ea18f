//! Root of `zig build test`: the engine's unit tests, built for the host.
//! (main.zig's exports are wasm-only, so the tests start from here.)
test {
    _ = @import("allocator.zig");
    _ = @import("output.zig");
    _ = @import("reply.zig");
    _ = @import("serializer.zig");
    _ = @import("crossing.zig");
    _ = @import("hostcall.zig");
    _ = @import("ext.zig");
    // Their exports back Lua's C side (print, coroutines, clocks).
    _ = @import("interrupt.zig");
    _ = @import("libs.zig");
    _ = @import("eval.zig");
    _ = @import("wasmlib.zig");
    _ = @import("warn.zig");
    _ = @import("oom.zig");
    _ = @import("quarantine.zig");
    _ = @import("limits.zig");
    _ = @import("lua.zig");
    _ = @import("lua_c.zig");
    _ = @import("lua_c_check.zig");
}
