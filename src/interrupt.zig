//! Stopping a running eval from another host thread, the way lua.c stops
//! on SIGINT: the host's watcher thread writes a count hook straight into
//! the running lua_State (a deliberate data race on volatile fields, as in
//! lua.c), and the hook runs here, on the VM's own thread.
//! The hook serves interrupts only (output streams through a ring,
//! src/output.zig), and frees the watcher may still write into wait in
//! src/quarantine.zig. Layout and protocol: docs/ABI.md, "Interrupts and
//! streaming".
const std = @import("std");
const lua = @import("lua.zig");
const c = lua.c;
const output = @import("output.zig");
const quarantine = @import("quarantine.zig");
const state = @import("state.zig");

/// Requests from the host's watcher thread; it writes, the hook reads.
pub const Signals = extern struct {
    interrupt: u32 = 0,
};

/// What the host needs to arm the hook: addresses in linear memory and
/// field offsets. Read once by the host at start-up (lw_interrupt_layout).
pub const Layout = extern struct {
    signals_addr: u32,
    current_thread_addr: u32,
    hook_fn: u32,
    hook_mask: u32,
    off_hook: u32,
    off_hookmask: u32,
    off_basehookcount: u32,
    off_hookcount: u32,
    off_ci: u32,
    off_ci_trap: u32,
    off_ci_previous: u32,
    off_ci_callstatus: u32,
    cist_c: u32,
    output_ring_addr: u32,
};

pub var signals: Signals = .{};
/// The thread currently executing Lua: the main state or a resumed coroutine.
pub var current_thread: ?*lua.State = null;
var main_thread: ?*lua.State = null;

extern const lw_lua_offsets: [9]c_uint;

const hook_mask = c.LUA_MASKCOUNT;

pub fn init(L: ?*lua.State) void {
    main_thread = L;
    current_thread = L;
}

pub fn layout() Layout {
    return .{
        .signals_addr = @intCast(@intFromPtr(&signals)),
        .current_thread_addr = @intCast(@intFromPtr(&current_thread)),
        .hook_fn = @intCast(@intFromPtr(&stopHook)),
        .hook_mask = hook_mask,
        .off_hook = lw_lua_offsets[0],
        .off_hookmask = lw_lua_offsets[1],
        .off_basehookcount = lw_lua_offsets[2],
        .off_hookcount = lw_lua_offsets[3],
        .off_ci = lw_lua_offsets[4],
        .off_ci_trap = lw_lua_offsets[5],
        .off_ci_previous = lw_lua_offsets[6],
        .off_ci_callstatus = lw_lua_offsets[7],
        .cist_c = lw_lua_offsets[8],
        .output_ring_addr = @intCast(output.ringAddr()),
    };
}

/// Clears stale requests and the stop hook (never a hook the cell set)
/// before an eval starts. The host ended the last eval's watcher ticks
/// under its lock, so the quarantine can be released. The check build
/// checks the heap here, i.e. after every eval.
pub fn beginEval() void {
    signals.interrupt = 0;
    current_thread = main_thread;
    disarm(main_thread);
    quarantine.synchronized();
    state.checkHeap();
}

/// The cell's chunk returned: forget a stop request that came too late.
/// (The host's watcher re-arms within a tick if the request still stands,
/// so rendering the values remains interruptible.)
pub fn settle(L: ?*lua.State) void {
    @as(*volatile u32, &signals.interrupt).* = 0;
    disarm(L);
}

/// Removes the stop hook, and only it: a hook the cell set is its own.
pub fn disarm(L: ?*lua.State) void {
    if (c.lua_gethook(L) == &stopHook) c.lua_sethook(L, null, 0, 0);
}

/// True when the host asked this eval to stop.
pub fn requested() bool {
    return @as(*volatile u32, &signals.interrupt).* != 0;
}

/// Arms the hook on `L` from inside the VM (same effect as the host's write).
pub fn arm(L: ?*lua.State) void {
    c.lua_sethook(L, stopHook, hook_mask, 1);
}

/// Runs at the next Lua instruction after the host armed it.
fn stopHook(L: ?*lua.State, _: [*c]c.lua_Debug) callconv(.c) void {
    // Stays armed while an interrupt is pending, so a pcall that swallows
    // the error is interrupted again at its caller's next instruction:
    // lua_sethook sets the trap of every Lua frame, the callers' included
    // (the host's watcher only marks the innermost one).
    if (requested()) {
        arm(L);
        lua.raise(L, "interrupted!");
    }
    c.lua_sethook(L, null, 0, 0);
}

/// coroutine.resume and coroutine.wrap go through here (see lua_user.h).
export fn lw_resume(co: ?*lua.State, from: ?*lua.State, narg: c_int, nres: *c_int) c_int {
    const previous = current_thread;
    current_thread = co;
    const status = c.lua_resume(co, from, narg, nres);
    current_thread = previous;
    if (requested()) arm(previous);
    return status;
}

// ---------------------------------------------------------------- tests

const harness = @import("test_harness.zig");
const ffi = @import("ffi.zig");
const eval = @import("eval.zig");
const Status = @import("error.zig").Status;

test "armed with a stop requested, the hook raises, and stays armed until settled" {
    const L = harness.engine();
    signals.interrupt = 1;
    arm(L);
    try std.testing.expect(requested());
    const loop = "for i = 1, 10 do end";
    try std.testing.expectEqualStrings("interrupted!", try harness.runError(L, loop));
    lua.pop(L, 1);
    // A pcall that swallows the stop is stopped again at its caller.
    try std.testing.expectEqualStrings("interrupted!", try harness.runError(L, "pcall(function() for i = 1, 10 do end end); x = 1"));
    lua.pop(L, 1);
    settle(L);
    try std.testing.expect(!requested());
    try std.testing.expect(c.lua_gethook(L) == null);
    try harness.run(L, loop);
    try harness.run(L, "assert(x == nil)");
}

test "armed with no stop requested, the hook removes itself" {
    const L = harness.engine();
    arm(L);
    try std.testing.expect(c.lua_gethook(L) == &stopHook);
    try harness.run(L, "x = 1");
    try std.testing.expect(c.lua_gethook(L) == null);
}

test "disarm removes the stop hook and never a hook the cell set" {
    const L = harness.engine();
    try harness.run(L, "debug.sethook(function() end, '', 1000)");
    const own = c.lua_gethook(L);
    try std.testing.expect(own != null and own != &stopHook);
    disarm(L);
    try std.testing.expect(c.lua_gethook(L) == own);
    arm(L);
    disarm(L);
    try std.testing.expect(c.lua_gethook(L) == null);
}

/// The host's watcher, as a host call is answered: asks for a stop.
fn requestStop() void {
    signals.interrupt = 1;
}

test "a stop during a host call interrupts the cell, even through pcall, and the next cell runs" {
    _ = harness.engine();
    ffi.native.host_reply = &.{ 0x01, 1 };
    ffi.native.on_host_call = requestStop;
    try std.testing.expectEqual(Status.interrupted, eval.eval("c", "local ok, e = pcall(wasm.snapshots)\nreached = true"));
    ffi.native.on_host_call = null;
    try std.testing.expectEqual(Status.ok, eval.eval("c", "assert(reached == nil)"));
}

test "a stop inside a coroutine stops the thread that resumed it" {
    _ = harness.engine();
    ffi.native.host_reply = &.{ 0x01, 1 };
    ffi.native.on_host_call = requestStop;
    const cell = "local co = coroutine.create(function() wasm.snapshots() end)\nlocal ok, e = coroutine.resume(co)\nreached = true";
    try std.testing.expectEqual(Status.interrupted, eval.eval("c", cell));
    ffi.native.on_host_call = null;
    try std.testing.expectEqual(Status.ok, eval.eval("c", "assert(reached == nil)"));
    // While a coroutine runs, it is the current thread.
    try std.testing.expectEqual(Status.ok, eval.eval("c", "co = coroutine.running()\nassert(coroutine.wrap(function() return coroutine.running() ~= co end)())"));
    try std.testing.expect(current_thread == state.L);
}

test "the layout gives the host the hook, the signals, the thread and the ring" {
    const L = harness.engine();
    const l = layout();
    try std.testing.expectEqual(@as(u32, @intCast(@intFromPtr(&stopHook))), l.hook_fn);
    try std.testing.expectEqual(@as(u32, @intCast(@intFromPtr(&signals))), l.signals_addr);
    try std.testing.expectEqual(@as(u32, @intCast(@intFromPtr(&current_thread))), l.current_thread_addr);
    try std.testing.expectEqual(@as(u32, @intCast(@intFromPtr(&output.ring))), l.output_ring_addr);
    try std.testing.expectEqual(@as(u32, c.LUA_MASKCOUNT), l.hook_mask);
    // The hook's offset inside a lua_State: arming writes exactly there.
    arm(L);
    const hook_field: *const usize = @ptrFromInt(@intFromPtr(L.?) + l.off_hook);
    try std.testing.expectEqual(@intFromPtr(&stopHook), hook_field.*);
    disarm(L);
}
