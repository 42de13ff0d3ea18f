//! Frees held back from the host's watcher thread. That thread reads the
//! running lua_State's address and its CallInfo chain while the VM runs,
//! then writes hook fields and `trap` there (src/interrupt.zig); a coroutine
//! or a CallInfo freed in between (GC: luaE_freethread, luaE_shrinkCI) must
//! not be reused until that tick is over. So every freed block of those
//! two sizes waits here until the VM next synchronizes with the host: an
//! lw_host_output call, which takes the watcher's lock (no tick is then in
//! progress, and a later tick reads the addresses anew, so it cannot reach a
//! block freed before), or the start of an eval (the host's watcher ended
//! the previous eval's ticks under that lock). When the quarantine is full
//! the VM synchronizes at once, so it holds at most `capacity_blocks`
//! blocks and `capacity_bytes` bytes. docs/ABI.md, "Interrupts and streaming".
const std = @import("std");
const Tlsf = @import("allocator.zig").Tlsf;
const output = @import("output.zig");

/// Blocks held at most, and their bytes at most (a coroutine's state is
/// 120 bytes, a CallInfo 36). Each synchronization costs about 15 µs.
pub const capacity_blocks = 1024;
pub const capacity_bytes: u32 = 64 * 1024;

/// sizeof(CallInfo) and sizeof(LX), from Lua's headers (src/hook_layout.c).
extern const lw_watched_sizes: [2]c_uint;

var heap: ?*Tlsf = null;
var blocks: [capacity_blocks][*]u8 = undefined;
var count: u32 = 0;
var held_bytes: u32 = 0;
/// Blocks held since start-up, and synchronizations forced by a full quarantine.
pub var held_total: u64 = 0;
pub var forced_syncs: u64 = 0;

pub fn init(h: *Tlsf) void {
    heap = h;
    count = 0;
    held_bytes = 0;
}

/// True for a block the watcher may write into: Lua frees with its size.
pub fn watches(size: usize) bool {
    return size == lw_watched_sizes[0] or size == lw_watched_sizes[1];
}

/// Holds a freed block back instead of freeing it.
pub fn hold(p: [*]u8, size: usize) void {
    if (count == capacity_blocks or held_bytes + size > capacity_bytes) {
        forced_syncs += 1;
        output.flush(); // synchronizes, then releases everything held
    }
    blocks[count] = p;
    count += 1;
    held_bytes += @intCast(size);
    held_total += 1;
}

/// The VM synchronized with the host: no watcher tick can reach a block
/// held so far. Releases them all.
pub fn synchronized() void {
    const h = heap orelse return;
    for (blocks[0..count]) |p| h.free(p);
    count = 0;
    held_bytes = 0;
}

/// Blocks held now.
pub fn held() u32 {
    return count;
}

// ---------------------------------------------------------------- tests

const harness = @import("test_harness.zig");
const state = @import("state.zig");

test "freed coroutines and CallInfos wait until the VM synchronizes" {
    const L = harness.engine();
    try std.testing.expect(watches(lw_watched_sizes[0]) and watches(lw_watched_sizes[1]));
    try std.testing.expect(!watches(lw_watched_sizes[0] + 1));
    synchronized();
    try harness.run(L, "for i = 1, 20 do coroutine.wrap(function() end)() end\ncollectgarbage()");
    try std.testing.expect(held() >= 20);
    const used = state.heap.used_bytes;
    output.flush();
    try std.testing.expectEqual(@as(u32, 0), held());
    try std.testing.expect(state.heap.used_bytes < used);
}

test "a full quarantine synchronizes at once, then holds again" {
    _ = harness.engine(); // the output ring a forced synchronization flushes
    var region: [256 * 1024]u8 align(8) = undefined;
    var h = Tlsf.init(&region);
    init(&h);
    defer init(&state.heap);
    const syncs = forced_syncs;
    for (0..capacity_blocks + 1) |_| hold(h.alloc(16).?, 16);
    try std.testing.expectEqual(syncs + 1, forced_syncs);
    try std.testing.expectEqual(@as(u32, 1), held());
    // By bytes too: 64 KiB at most.
    hold(h.alloc(capacity_bytes - 8).?, capacity_bytes - 8);
    try std.testing.expectEqual(syncs + 2, forced_syncs);
    try std.testing.expectEqual(@as(u32, 1), held());
    synchronized();
    try std.testing.expectEqual(@as(u32, 0), h.used_bytes);
}
