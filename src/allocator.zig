//! Two-level segregated fit (TLSF) allocator over one fixed region of memory:
//! O(1) allocation and free, immediate coalescing, never grows the memory.
//! Lua's heap lives here; the region is [__heap_base, end of linear memory).
const std = @import("std");
const assert = std.debug.assert;

const align_log2 = 3;
/// Lua stores doubles and 64-bit integers: every block is 8-aligned.
const align_bytes: u32 = 1 << align_log2;
const sl_log2 = 4;
/// Second-level lists per first-level class.
const sl_count: u32 = 1 << sl_log2;
const fl_shift = sl_log2 + align_log2;
/// Below this size the lists are linear, one per 8-byte size.
const small_size_bytes: u32 = 1 << fl_shift;
/// First-level classes: enough for any 32-bit size.
const fl_count: u32 = 32 - fl_shift + 1;

/// A block starts with [prev_phys: u32][size_flags: u32]; a free block
/// continues with [next_free: u32][prev_free: u32].
const header_bytes: u32 = 8;
const block_min_bytes: u32 = 16;
const nil: u32 = 0xffff_ffff;
const flag_free: u32 = 1;
const size_mask: u32 = ~(align_bytes - 1);

/// Quick lists: freed blocks up to this size (header included) wait, still
/// marked used, in one LIFO list per size, so Lua's churn of small objects
/// (closures, upvalues, short strings, CallInfos) skips the free lists and
/// the coalescing; alloc takes them first and releases them all before it
/// would fail. Only a heap that turns `quick` on (Lua's, src/state.zig).
const quick_max_bytes: u32 = 128;
const quick_lists: u32 = quick_max_bytes / align_bytes + 1;

const Class = struct { fl: u32, sl: u32 };

pub const Tlsf = struct {
    base: [*]u8,
    /// Offset of the zero-sized sentinel block that ends the region.
    end: u32,
    fl_bitmap: u32 = 0,
    sl_bitmap: [fl_count]u32 = @splat(0),
    heads: [fl_count][sl_count]u32 = @splat(@splat(nil)),
    /// Bytes in used blocks, headers included.
    used_bytes: u32 = 0,
    peak_bytes: u32 = 0,
    quick: bool = false,
    /// Heads of the quick lists, by block size / 8; linked through word 2.
    quick_heads: [quick_lists]u32 = @splat(nil),
    /// Bytes waiting in the quick lists (not in used_bytes).
    quick_bytes: u32 = 0,

    /// Lays one free block over the region (trimmed to 8-byte alignment).
    pub fn init(region: []u8) Tlsf {
        const start = std.mem.alignForward(usize, @intFromPtr(region.ptr), align_bytes);
        const skip = start - @intFromPtr(region.ptr);
        assert(region.len >= skip + 2 * header_bytes + block_min_bytes);
        const usable: u32 = @intCast((region.len - skip) & ~@as(usize, align_bytes - 1));
        var self = Tlsf{ .base = @ptrFromInt(start), .end = usable - header_bytes };
        self.word(0, 0).* = nil;
        self.word(0, 1).* = self.end | flag_free;
        self.word(self.end, 0).* = 0;
        self.word(self.end, 1).* = 0;
        self.insertFree(0);
        return self;
    }

    /// Total bytes the region can hand out, headers included.
    pub fn capacity(self: *const Tlsf) u32 {
        return self.end;
    }

    pub fn alloc(self: *Tlsf, n: usize) ?[*]u8 {
        const req = adjust(n) orelse return null;
        if (req <= quick_max_bytes and self.quick_heads[req / align_bytes] != nil) {
            const o = self.quick_heads[req / align_bytes];
            self.quick_heads[req / align_bytes] = self.word(o, 2).*;
            self.quick_bytes -= req;
            self.account(req, 0);
            return self.base + o + header_bytes;
        }
        const o = self.findSuitable(mapSearch(req)) orelse {
            if (self.quick_bytes == 0) return null;
            self.releaseQuick();
            return self.alloc(n);
        };
        self.removeFree(o);
        self.word(o, 1).* = self.sizeOf(o);
        self.splitTail(o, req);
        self.account(@intCast(self.sizeOf(o)), 0);
        return self.base + o + header_bytes;
    }

    pub fn free(self: *Tlsf, p: [*]u8) void {
        const o = self.offsetOf(p);
        const size = self.sizeOf(o);
        self.account(0, size);
        if (self.quick and size <= quick_max_bytes) {
            self.word(o, 2).* = self.quick_heads[size / align_bytes];
            self.quick_heads[size / align_bytes] = o;
            self.quick_bytes += size;
            return;
        }
        self.release(o);
    }

    /// Frees every block waiting in the quick lists into the free lists.
    pub fn releaseQuick(self: *Tlsf) void {
        for (&self.quick_heads) |*head| {
            while (head.* != nil) {
                const o = head.*;
                head.* = self.word(o, 2).*;
                self.release(o);
            }
        }
        self.quick_bytes = 0;
    }

    /// Resizes in place when it can (shrinking always can), else moves.
    pub fn realloc(self: *Tlsf, p: [*]u8, n: usize) ?[*]u8 {
        const o = self.offsetOf(p);
        const size = self.sizeOf(o);
        const req = adjust(n) orelse return null;
        if (req <= size) {
            self.splitTail(o, req);
            self.account(self.sizeOf(o), size);
            return p;
        }
        const next = o + size;
        if (self.isFree(next) and size + self.sizeOf(next) >= req) {
            self.removeFree(next);
            self.word(o, 1).* = size + self.sizeOf(next);
            self.word(o + self.sizeOf(o), 0).* = o;
            self.splitTail(o, req);
            self.account(self.sizeOf(o), size);
            return p;
        }
        const q = self.alloc(n) orelse return null;
        @memcpy(q[0 .. size - header_bytes], p[0 .. size - header_bytes]);
        self.free(p);
        return q;
    }

    /// Walks every block and every free list and checks the invariants: the
    /// tests, and the check build (state.checkHeap) after every eval.
    pub fn check(self: *const Tlsf) !void {
        var o: u32 = 0;
        var prev: u32 = nil;
        var used: u32 = 0;
        var free_blocks: u32 = 0;
        var prev_free = false;
        while (o != self.end) {
            if (self.word(o, 0).* != prev) return error.BadPrevLink;
            const size = self.sizeOf(o);
            if (size < block_min_bytes or size % align_bytes != 0) return error.BadSize;
            if (o + size > self.end) return error.OverrunsEnd;
            if (self.isFree(o)) {
                if (prev_free) return error.UncoalescedNeighbours;
                if (!self.listed(o)) return error.FreeBlockNotListed;
                free_blocks += 1;
            } else used += size;
            prev_free = self.isFree(o);
            prev = o;
            o += size;
        }
        if (self.word(self.end, 0).* != prev) return error.BadSentinel;
        if (used != self.used_bytes + try self.checkQuick()) return error.BadAccounting;
        if (try self.checkLists() != free_blocks) return error.ListedBlockNotFree;
    }

    /// Every quick list holds used blocks of its size; returns their bytes.
    fn checkQuick(self: *const Tlsf) !u32 {
        var bytes: u32 = 0;
        for (self.quick_heads, 0..) |head, i| {
            var it = head;
            while (it != nil) : (it = self.word(it, 2).*) {
                if (it >= self.end or it % align_bytes != 0) return error.BadQuickLink;
                if (self.isFree(it) or self.sizeOf(it) != i * align_bytes) return error.BadQuickLink;
                bytes += self.sizeOf(it);
                if (bytes > self.end) return error.QuickListCycle;
            }
        }
        if (bytes != self.quick_bytes) return error.BadAccounting;
        return bytes;
    }

    /// Every list holds free blocks of its class, doubly linked, and the
    /// bitmaps mark exactly the non-empty lists. Returns the blocks listed.
    fn checkLists(self: *const Tlsf) !u32 {
        var listed_blocks: u32 = 0;
        for (0..fl_count) |fl| {
            for (0..sl_count) |sl| {
                const head = self.heads[fl][sl];
                const marked = self.sl_bitmap[fl] & (@as(u32, 1) << @intCast(sl)) != 0;
                if (marked != (head != nil)) return error.BadBitmap;
                var it = head;
                var back: u32 = nil;
                while (it != nil) : (it = self.word(it, 2).*) {
                    if (it >= self.end or it % align_bytes != 0) return error.BadFreeLink;
                    if (!self.isFree(it) or self.word(it, 3).* != back) return error.BadFreeLink;
                    const class = mapInsert(self.sizeOf(it));
                    if (class.fl != fl or class.sl != sl) return error.BadFreeClass;
                    listed_blocks += 1;
                    if (listed_blocks > self.end / block_min_bytes) return error.FreeListCycle;
                    back = it;
                }
            }
            if ((self.fl_bitmap >> @intCast(fl) & 1 != 0) != (self.sl_bitmap[fl] != 0)) return error.BadBitmap;
        }
        return listed_blocks;
    }

    /// Free blocks in the region; 1 when everything is coalesced. For tests.
    pub fn freeBlockCount(self: *const Tlsf) u32 {
        var n: u32 = 0;
        var o: u32 = 0;
        while (o != self.end) : (o += self.sizeOf(o)) n += @intFromBool(self.isFree(o));
        return n;
    }

    fn account(self: *Tlsf, add: u32, sub: u32) void {
        self.used_bytes = self.used_bytes + add - sub;
        self.peak_bytes = @max(self.peak_bytes, self.used_bytes);
    }

    /// Cuts the tail beyond `req` off a used block and frees it.
    fn splitTail(self: *Tlsf, o: u32, req: u32) void {
        const size = self.sizeOf(o);
        if (size < req + block_min_bytes) return;
        const tail = o + req;
        self.word(o, 1).* = req;
        self.word(tail, 0).* = o;
        self.word(tail, 1).* = size - req;
        self.word(tail + size - req, 0).* = tail;
        self.release(tail);
    }

    /// Marks a block free, merges it with free neighbours, lists it.
    fn release(self: *Tlsf, start: u32) void {
        var o = start;
        var size = self.sizeOf(o);
        const next = o + size;
        if (self.isFree(next)) {
            self.removeFree(next);
            size += self.sizeOf(next);
        }
        const prev = self.word(o, 0).*;
        if (prev != nil and self.isFree(prev)) {
            self.removeFree(prev);
            size += self.sizeOf(prev);
            o = prev;
        }
        self.word(o, 1).* = size | flag_free;
        self.word(o + size, 0).* = o;
        self.insertFree(o);
    }

    fn findSuitable(self: *Tlsf, class: Class) ?u32 {
        if (class.fl >= fl_count) return null;
        var fl = class.fl;
        var sl_map = self.sl_bitmap[fl] & (~@as(u32, 0) << @intCast(class.sl));
        if (sl_map == 0) {
            if (fl + 1 >= 32) return null;
            const fl_map = self.fl_bitmap & (~@as(u32, 0) << @intCast(fl + 1));
            if (fl_map == 0) return null;
            fl = @ctz(fl_map);
            sl_map = self.sl_bitmap[fl];
        }
        return self.heads[fl][@ctz(sl_map)];
    }

    fn insertFree(self: *Tlsf, o: u32) void {
        const class = mapInsert(self.sizeOf(o));
        const head = self.heads[class.fl][class.sl];
        self.word(o, 2).* = head;
        self.word(o, 3).* = nil;
        if (head != nil) self.word(head, 3).* = o;
        self.heads[class.fl][class.sl] = o;
        self.fl_bitmap |= @as(u32, 1) << @intCast(class.fl);
        self.sl_bitmap[class.fl] |= @as(u32, 1) << @intCast(class.sl);
    }

    fn removeFree(self: *Tlsf, o: u32) void {
        const class = mapInsert(self.sizeOf(o));
        const next = self.word(o, 2).*;
        const prev = self.word(o, 3).*;
        if (next != nil) self.word(next, 3).* = prev;
        if (prev != nil) {
            self.word(prev, 2).* = next;
            return;
        }
        self.heads[class.fl][class.sl] = next;
        if (next != nil) return;
        self.sl_bitmap[class.fl] &= ~(@as(u32, 1) << @intCast(class.sl));
        if (self.sl_bitmap[class.fl] == 0)
            self.fl_bitmap &= ~(@as(u32, 1) << @intCast(class.fl));
    }

    fn listed(self: *const Tlsf, o: u32) bool {
        const class = mapInsert(self.sizeOf(o));
        var it = self.heads[class.fl][class.sl];
        while (it != nil) : (it = self.word(it, 2).*) if (it == o) return true;
        return false;
    }

    fn word(self: *const Tlsf, o: u32, i: u32) *u32 {
        return @ptrCast(@alignCast(self.base + o + i * 4));
    }

    fn sizeOf(self: *const Tlsf, o: u32) u32 {
        return self.word(o, 1).* & size_mask;
    }

    fn isFree(self: *const Tlsf, o: u32) bool {
        return self.word(o, 1).* & flag_free != 0;
    }

    fn offsetOf(self: *const Tlsf, p: [*]u8) u32 {
        const o: u32 = @intCast(@intFromPtr(p) - @intFromPtr(self.base) - header_bytes);
        assert(o < self.end and !self.isFree(o));
        return o;
    }
};

/// Block size for a request: payload plus header, 8-aligned, at least 16.
fn adjust(n: usize) ?u32 {
    if (n > std.math.maxInt(u32) - 2 * align_bytes - header_bytes) return null;
    const size: u32 = @intCast(std.mem.alignForward(usize, n + header_bytes, align_bytes));
    return @max(size, block_min_bytes);
}

fn mapInsert(size: u32) Class {
    if (size < small_size_bytes) return .{ .fl = 0, .sl = size / (small_size_bytes / sl_count) };
    const log2: u32 = 31 - @clz(size);
    const sl = (size >> @intCast(log2 - sl_log2)) ^ sl_count;
    return .{ .fl = log2 - fl_shift + 1, .sl = sl };
}

/// Rounds up to the next list so any block found there is large enough.
fn mapSearch(size: u32) Class {
    if (size < small_size_bytes) return mapInsert(size);
    const log2: u32 = 31 - @clz(size);
    const rounded = @as(u64, size) + (@as(u64, 1) << @intCast(log2 - sl_log2)) - 1;
    if (rounded > std.math.maxInt(u32)) return .{ .fl = fl_count, .sl = 0 };
    return mapInsert(@intCast(rounded));
}

test "alloc, free and coalesce back to one block" {
    var region: [64 * 1024]u8 align(8) = undefined;
    var heap = Tlsf.init(&region);
    const a = heap.alloc(100).?;
    const b = heap.alloc(5000).?;
    const c = heap.alloc(1).?;
    try heap.check();
    try std.testing.expect(heap.used_bytes > 5100);
    heap.free(b);
    heap.free(a);
    heap.free(c);
    try heap.check();
    try std.testing.expectEqual(@as(u32, 0), heap.used_bytes);
    // Everything coalesced back into the one block the region started as.
    try std.testing.expectEqual(@as(u32, 1), heap.freeBlockCount());
    try std.testing.expect(heap.alloc(heap.capacity() / 2) != null);
}

test "exhaustion returns null, then recovers" {
    var region: [16 * 1024]u8 align(8) = undefined;
    var heap = Tlsf.init(&region);
    var ptrs: [1024][*]u8 = undefined;
    var n: usize = 0;
    while (heap.alloc(64)) |p| : (n += 1) ptrs[n] = p;
    try std.testing.expect(n > 100);
    try heap.check();
    for (ptrs[0..n]) |p| heap.free(p);
    try heap.check();
    try std.testing.expect(heap.alloc(8 * 1024) != null);
}

test "realloc keeps contents, grows in place and moves" {
    var region: [64 * 1024]u8 align(8) = undefined;
    var heap = Tlsf.init(&region);
    var p = heap.alloc(16).?;
    for (0..16) |i| p[i] = @intCast(i);
    p = heap.realloc(p, 4000).?;
    const blocker = heap.alloc(10).?;
    p = heap.realloc(p, 9000).?;
    for (0..16) |i| try std.testing.expectEqual(@as(u8, @intCast(i)), p[i]);
    p = heap.realloc(p, 8).?;
    try heap.check();
    heap.free(p);
    heap.free(blocker);
    try heap.check();
    try std.testing.expectEqual(@as(u32, 0), heap.used_bytes);
}

test "random workload keeps invariants and does not fragment" {
    var region: [256 * 1024]u8 align(8) = undefined;
    var heap = Tlsf.init(&region);
    var prng = std.Random.DefaultPrng.init(42);
    const rand = prng.random();
    var live: [512]?[*]u8 = @splat(null);
    for (0..20_000) |_| {
        const i = rand.uintLessThan(usize, live.len);
        if (live[i]) |p| {
            if (rand.boolean()) {
                heap.free(p);
                live[i] = null;
            } else live[i] = heap.realloc(p, rand.uintLessThan(usize, 2000) + 1) orelse p;
        } else live[i] = heap.alloc(rand.uintLessThan(usize, 2000) + 1);
    }
    try heap.check();
    for (&live) |*slot| {
        if (slot.*) |p| heap.free(p);
        slot.* = null;
    }
    try heap.check();
    try std.testing.expectEqual(@as(u32, 1), heap.freeBlockCount());
}

test "quick lists: a freed small block is reused first, and released on demand" {
    var region: [64 * 1024]u8 align(8) = undefined;
    var heap = Tlsf.init(&region);
    heap.quick = true;
    const a = heap.alloc(40).?;
    const b = heap.alloc(40).?;
    const used = heap.used_bytes;
    heap.free(a);
    try std.testing.expectEqual(used - 48, heap.used_bytes);
    try std.testing.expectEqual(@as(u32, 48), heap.quick_bytes);
    try heap.check();
    try std.testing.expectEqual(a, heap.alloc(37).?); // same size class (48 bytes): the same block
    try std.testing.expectEqual(@as(u32, 0), heap.quick_bytes);
    heap.free(a);
    heap.free(b);
    try std.testing.expectEqual(@as(u32, 0), heap.used_bytes);
    try std.testing.expectEqual(@as(u32, 96), heap.quick_bytes); // held, still marked used
    try heap.check();
    heap.releaseQuick();
    try heap.check();
    try std.testing.expectEqual(@as(u32, 1), heap.freeBlockCount());
}

test "quick lists: an allocation that needs their space releases them" {
    var region: [16 * 1024]u8 align(8) = undefined;
    var heap = Tlsf.init(&region);
    heap.quick = true;
    var ptrs: [1024][*]u8 = undefined;
    var n: usize = 0;
    while (heap.alloc(64)) |p| : (n += 1) ptrs[n] = p;
    for (ptrs[0..n]) |p| heap.free(p);
    try std.testing.expect(heap.quick_bytes > 8 * 1024);
    try heap.check();
    try std.testing.expect(heap.alloc(8 * 1024) != null); // only after coalescing the quick blocks
    try heap.check();
}

test "quick lists: random workload keeps invariants and does not fragment" {
    var region: [256 * 1024]u8 align(8) = undefined;
    var heap = Tlsf.init(&region);
    heap.quick = true;
    var prng = std.Random.DefaultPrng.init(7);
    const rand = prng.random();
    var live: [512]?[*]u8 = @splat(null);
    for (0..20_000) |k| {
        const i = rand.uintLessThan(usize, live.len);
        const big = rand.uintLessThan(u32, 8) == 0;
        const size = if (big) rand.uintLessThan(usize, 3000) + 1 else rand.uintLessThan(usize, 120) + 1;
        if (live[i]) |p| {
            if (rand.boolean()) {
                heap.free(p);
                live[i] = null;
            } else live[i] = heap.realloc(p, size) orelse p;
        } else live[i] = heap.alloc(size);
        if (k % 1000 == 0) try heap.check();
    }
    try heap.check();
    for (&live) |*slot| {
        if (slot.*) |p| heap.free(p);
        slot.* = null;
    }
    try std.testing.expectEqual(@as(u32, 0), heap.used_bytes);
    heap.releaseQuick();
    try heap.check();
    try std.testing.expectEqual(@as(u32, 1), heap.freeBlockCount());
}
