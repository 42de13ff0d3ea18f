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
