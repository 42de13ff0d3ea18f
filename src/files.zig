//! The confined file layer under Lua's own io library (liolib.c, which sees
//! it as stdio through src/lw_stdio.h): files of the notebook's folder
//! through the host's lw_file_* imports (docs/ABI.md, "Files"), stdin through
//! the notebook's input box, stdout and stderr into the cell's output. Reads
//! go through a read-ahead buffer, so one host crossing serves many lines;
//! os.remove, os.rename and os.tmpname use the same imports.
const std = @import("std");
const builtin = @import("builtin");
const lua = @import("lua.zig");
const c = lua.c;
const limits = @import("limits.zig");
const output = @import("output.zig");
const ffi = @import("ffi.zig");
const interrupt = @import("interrupt.zig");
const state = @import("state.zig");
const Tlsf = @import("allocator.zig").Tlsf;

const EOF: c_int = -1;

/// The host's file functions. Results below zero are -errno (Errno).
const host = if (builtin.target.cpu.arch.isWasm()) struct {
    extern "env" fn lw_file_open(path_ptr: ?[*]const u8, path_len: u32, mode_ptr: [*]const u8, mode_len: u32) i32;
    extern "env" fn lw_file_read(handle: u32, dst_ptr: [*]u8, dst_cap: u32) i32;
    extern "env" fn lw_file_write(handle: u32, src_ptr: [*]const u8, src_len: u32) i32;
    extern "env" fn lw_file_seek(handle: u32, offset: i64, whence: u32) i64;
    extern "env" fn lw_file_close(handle: u32) i32;
    extern "env" fn lw_file_remove(path_ptr: [*]const u8, path_len: u32) i32;
    extern "env" fn lw_file_rename(from_ptr: [*]const u8, from_len: u32, to_ptr: [*]const u8, to_len: u32) i32;
    extern "env" fn lw_file_tmpname(dst_ptr: [*]u8, dst_cap: u32) i32;
} else ffi.native.files; // native tests: an in-memory folder

/// Error numbers of the file imports: Linux's, whatever the host's system
/// (abi.py: Errno). Messages as glibc's strerror words them.
pub const Errno = enum(i32) {
    EPERM = 1,
    ENOENT = 2,
    EIO = 5,
    EBADF = 9,
    ENOMEM = 12,
    EACCES = 13,
    EEXIST = 17,
    EXDEV = 18,
    ENOTDIR = 20,
    EISDIR = 21,
    EINVAL = 22,
    EMFILE = 24,
    EFBIG = 27,
    ENOSPC = 28,
    ESPIPE = 29,
    EROFS = 30,
    ENAMETOOLONG = 36,
    ENOTEMPTY = 39,
    ELOOP = 40,

    fn message(e: Errno) [:0]const u8 {
        return switch (e) {
            .EPERM => "Operation not permitted",
            .ENOENT => "No such file or directory",
            .EIO => "Input/output error",
            .EBADF => "Bad file descriptor",
            .ENOMEM => "Cannot allocate memory",
            .EACCES => "Permission denied",
            .EEXIST => "File exists",
            .EXDEV => "Invalid cross-device link",
            .ENOTDIR => "Not a directory",
            .EISDIR => "Is a directory",
            .EINVAL => "Invalid argument",
            .EMFILE => "Too many open files",
            .EFBIG => "File too large",
            .ENOSPC => "No space left on device",
            .ESPIPE => "Illegal seek",
            .EROFS => "Read-only file system",
            .ENAMETOOLONG => "File name too long",
            .ENOTEMPTY => "Directory not empty",
            .ELOOP => "Too many levels of symbolic links",
        };
    }
};

/// strerror for liolib and lauxlib (lua_user.h): errno there is always ours.
export fn lw_strerror(en: c_int) [*:0]const u8 {
    const e = std.enums.fromInt(Errno, en) orelse return "Unknown error";
    return e.message().ptr;
}

fn setErrno(e: Errno) void {
    std.c._errno().* = @intFromEnum(e);
}

/// A host result below zero as an Errno (unknown numbers read as EIO).
fn hostErrno(result: i64) Errno {
    std.debug.assert(result < 0);
    if (result < -std.math.maxInt(i32)) return .EIO;
    return std.enums.fromInt(Errno, @as(i32, @intCast(-result))) orelse .EIO;
}

const Kind = enum(u8) { stdin, stdout, stderr, host };
const Buffering = enum(u8) { none, line, full };

/// A stream. Its head (next, end) is lw_File in lw_stdio.h, which the
/// inline getc reads; keep the two in step.
pub const File = extern struct {
    next: [*]u8,
    end: [*]u8,
    /// The read-ahead (or write-behind) buffer: heap memory, or empty.
    buffer: [*]u8,
    capacity: u32,
    /// Bytes written but not yet handed to the host, at buffer[0..pending].
    /// Reading and writing never both have buffered bytes.
    pending: u32,
    handle: u32,
    kind: Kind,
    readable: bool,
    writable: bool,
    failed: bool,
    /// A read met the end of the file (or of input).
    at_eof: bool,
    buffering: Buffering,
    /// stdin: the host's input epoch when the buffered line was read
    /// (epoch_known false: the host has no epoch).
    epoch: i64,
    epoch_known: bool,

    fn init(kind: Kind, readable: bool, writable: bool) File {
        return .{
            .next = &empty,
            .end = &empty,
            .buffer = &empty,
            .capacity = 0,
            .pending = 0,
            .handle = 0,
            .kind = kind,
            .readable = readable,
            .writable = writable,
            .failed = false,
            .at_eof = false,
            .buffering = .full,
            .epoch = 0,
            .epoch_known = false,
        };
    }

    fn buffered(f: *const File) u32 {
        return @intCast(@intFromPtr(f.end) - @intFromPtr(f.next));
    }

    fn dropReadAhead(f: *File) void {
        f.next = f.buffer;
        f.end = f.buffer;
    }

    fn fail(f: *File, e: Errno) void {
        f.failed = true;
        setErrno(e);
    }
};

var empty: [1]u8 = .{0};
var std_files = [3]File{ File.init(.stdin, true, false), File.init(.stdout, false, true), File.init(.stderr, false, true) };

var heap: *Tlsf = &state.heap;

/// Native tests bind their own heap.
pub fn useHeap(h: *Tlsf) void {
    heap = h;
}

/// Makes sure `f` has a buffer of at least `size` bytes (empty: dropped).
fn reserve(f: *File, size: u32) bool {
    if (f.capacity >= size) return true;
    std.debug.assert(f.buffered() == 0 and f.pending == 0);
    const block = heap.alloc(size) orelse return false;
    if (f.capacity > 0) heap.free(f.buffer);
    f.buffer = block;
    f.capacity = size;
    f.dropReadAhead();
    return true;
}

fn release(f: *File) void {
    if (f.capacity > 0) heap.free(f.buffer);
    f.buffer = &empty;
    f.capacity = 0;
    f.dropReadAhead();
}

// ---------------------------------------------------------------- opening

export fn lw_stdfile(which: c_int) *File {
    return &std_files[@intCast(which)];
}

export fn lw_fopen(name: [*:0]const u8, mode: [*:0]const u8) ?*File {
    return open(std.mem.span(name), std.mem.span(mode));
}

/// tmpfile(): the host's anonymous temporary file (a null name).
export fn lw_tmpfile() ?*File {
    return open(null, "w+b");
}

fn open(name: ?[]const u8, mode: []const u8) ?*File {
    if (mode.len == 0) {
        setErrno(.EINVAL);
        return null;
    }
    const block = heap.alloc(@sizeOf(File)) orelse {
        setErrno(.ENOMEM);
        return null;
    };
    const f: *File = @ptrCast(@alignCast(block));
    const plus = std.mem.indexOfScalar(u8, mode, '+') != null;
    f.* = File.init(.host, mode[0] == 'r' or plus, mode[0] != 'r' or plus);
    const path: ?[*]const u8 = if (name) |n| n.ptr else null;
    const path_len: u32 = if (name) |n| @intCast(n.len) else 0;
    const handle = host.lw_file_open(path, path_len, mode.ptr, @intCast(mode.len));
    if (handle <= 0) {
        heap.free(block);
        setErrno(if (handle < 0) hostErrno(handle) else .EIO);
        return null;
    }
    f.handle = @intCast(handle);
    return f;
}

/// freopen(name, mode, f): lauxlib reopens a binary chunk in "rb".
export fn lw_freopen(name: [*:0]const u8, mode: [*:0]const u8, f: *File) ?*File {
    _ = lw_fclose(f);
    return lw_fopen(name, mode);
}

export fn lw_fclose(f: *File) c_int {
    if (f.kind != .host) return 0;
    var ok = flushPending(f);
    const result = host.lw_file_close(f.handle);
    if (result < 0 and ok) {
        f.fail(hostErrno(result));
        ok = false;
    }
    release(f);
    heap.free(@ptrCast(f));
    return if (ok) 0 else EOF;
}

// ---------------------------------------------------------------- reading

/// getc's slow path: the buffer is empty; refill it and return its first byte.
export fn lw_fill(f: *File) c_int {
    std.debug.assert(f.buffered() == 0);
    const got = switch (f.kind) {
        .stdin => stdinLine(f, true),
        .host => hostFill(f),
        .stdout, .stderr => blk: {
            f.fail(.EBADF);
            break :blk false;
        },
    };
    if (!got) {
        if (!f.failed) f.at_eof = true;
        return EOF;
    }
    std.debug.assert(f.buffered() > 0);
    const byte = f.next[0];
    f.next += 1;
    return byte;
}

/// Reads the next block of a host file into its buffer; false at its end or on error.
fn hostFill(f: *File) bool {
    if (!f.readable) {
        f.fail(.EBADF);
        return false;
    }
    if (!flushPending(f)) return false;
    if (!reserve(f, limits.file_buffer_size_bytes)) {
        f.fail(.ENOMEM);
        return false;
    }
    const n = hostRead(f, f.buffer[0..f.capacity]) orelse return false;
    f.next = f.buffer;
    f.end = f.buffer + n;
    return n > 0;
}

/// One read of the host file into `dst`: the bytes read (0 at its end), or null on error.
fn hostRead(f: *File, dst: []u8) ?u32 {
    const n = host.lw_file_read(f.handle, dst.ptr, @intCast(dst.len));
    if (n < 0) {
        f.fail(hostErrno(n));
        return null;
    }
    if (n > dst.len) {
        f.fail(.EIO);
        return null;
    }
    return @intCast(n);
}

export fn lw_ungetc(ch: c_int, f: *File) c_int {
    if (ch == EOF) return EOF;
    f.at_eof = false;
    if (@intFromPtr(f.next) > @intFromPtr(f.buffer) and (f.next - 1)[0] == @as(u8, @truncate(@as(c_uint, @bitCast(ch))))) {
        f.next -= 1;
        return ch;
    }
    return EOF;
}

export fn lw_fread(p: [*]u8, size: usize, n: usize, f: *File) usize {
    const total = std.math.mul(usize, size, n) catch {
        f.fail(.EINVAL);
        return 0;
    };
    if (total == 0) return 0;
    const dst = p[0..total];
    var done: usize = 0;
    while (done < total) {
        const avail = f.buffered();
        if (avail > 0) {
            const take = @min(avail, total - done);
            @memcpy(dst[done..][0..take], f.next[0..take]);
            f.next += take;
            done += take;
            continue;
        }
        switch (f.kind) {
            // An empty line ends a read of a given size or of "a": a notebook
            // has no end-of-file key.
            .stdin => if (!stdinLine(f, false)) {
                f.at_eof = true;
                break;
            },
            .host => {
                if (!f.readable) {
                    f.fail(.EBADF);
                    break;
                }
                if (!flushPending(f)) break;
                // Large reads go straight to their destination.
                if (total - done >= limits.file_buffer_size_bytes) {
                    const got = hostRead(f, dst[done..]) orelse break;
                    if (got == 0) {
                        f.at_eof = true;
                        break;
                    }
                    done += got;
                } else if (!hostFill(f)) {
                    if (!f.failed) f.at_eof = true;
                    break;
                }
            },
            .stdout, .stderr => {
                f.fail(.EBADF);
                break;
            },
        }
    }
    return done / size;
}

export fn lw_ferror(f: *File) c_int {
    return @intFromBool(f.failed);
}

export fn lw_feof(f: *File) c_int {
    return @intFromBool(f.at_eof);
}

/// Also where every read starts (liolib's g_read): stdin drops what an
/// earlier cell left unread.
export fn lw_clearerr(f: *File) void {
    f.failed = false;
    f.at_eof = false;
    if (f.kind == .stdin and f.buffered() > 0) {
        const now = inputEpoch();
        const same = if (now) |e| f.epoch_known and e == f.epoch else !f.epoch_known;
        if (!same) f.dropReadAhead();
    }
}

// ---------------------------------------------------------------- writing

export fn lw_fwrite(p: [*]const u8, size: usize, n: usize, f: *File) usize {
    const total = std.math.mul(usize, size, n) catch {
        f.fail(.EINVAL);
        return 0;
    };
    if (total == 0) return 0;
    const bytes = p[0..total];
    switch (f.kind) {
        .stdout => output.write(.stdout, bytes),
        .stderr => output.write(.stderr, bytes),
        .stdin => {
            f.fail(.EBADF);
            return 0;
        },
        .host => if (!hostWrite(f, bytes)) return 0,
    }
    return n;
}

fn hostWrite(f: *File, bytes: []const u8) bool {
    if (!f.writable) {
        f.fail(.EBADF);
        return false;
    }
    // Bytes read ahead but not consumed: put the host's position back first.
    if (f.buffered() > 0) {
        const back = -@as(i64, f.buffered());
        f.dropReadAhead();
        if (!hostSeek(f, back, .current)) return false;
    }
    if (f.buffering == .none) return flushPending(f) and writeAll(f, bytes);
    if (f.pending + bytes.len > f.capacity and !flushPending(f)) return false;
    if (bytes.len >= limits.file_buffer_size_bytes) return writeAll(f, bytes);
    if (!reserve(f, limits.file_buffer_size_bytes)) return flushPending(f) and writeAll(f, bytes);
    @memcpy(f.buffer[f.pending..][0..bytes.len], bytes);
    f.pending += @intCast(bytes.len);
    std.debug.assert(f.pending <= f.capacity);
    if (f.buffering == .line and std.mem.indexOfScalar(u8, bytes, '\n') != null) return flushPending(f);
    return true;
}

fn writeAll(f: *File, bytes: []const u8) bool {
    var rest = bytes;
    while (rest.len > 0) {
        const chunk = rest[0..@min(rest.len, std.math.maxInt(i32))];
        const n = host.lw_file_write(f.handle, chunk.ptr, @intCast(chunk.len));
        if (n < 0) {
            f.fail(hostErrno(n));
            return false;
        }
        if (n == 0 or n > chunk.len) {
            f.fail(.EIO);
            return false;
        }
        rest = rest[@intCast(n)..];
    }
    return true;
}

fn flushPending(f: *File) bool {
    if (f.pending == 0) return true;
    const len = f.pending;
    f.pending = 0;
    return writeAll(f, f.buffer[0..len]);
}

export fn lw_fflush(f: *File) c_int {
    switch (f.kind) {
        .stdout, .stderr => output.flush(),
        .stdin => {},
        .host => if (!flushPending(f)) return EOF,
    }
    return 0;
}

export fn lw_setvbuf(f: *File, mode: c_int, size: usize) c_int {
    _ = size; // the buffer's size is the layer's (limits.file_buffer_size_bytes)
    const next: Buffering = if (mode == c._IONBF) .none else if (mode == c._IOLBF) .line else .full;
    if (f.kind == .host and next != .full and !flushPending(f)) return EOF;
    f.buffering = next;
    return 0;
}

// ---------------------------------------------------------------- seeking

const Whence = enum(u32) { set = 0, current = 1, end = 2 };

fn hostSeek(f: *File, offset: i64, whence: Whence) bool {
    return hostPosition(f, offset, whence) != null;
}

fn hostPosition(f: *File, offset: i64, whence: Whence) ?i64 {
    const pos = host.lw_file_seek(f.handle, offset, @intFromEnum(whence));
    if (pos < 0) {
        f.fail(hostErrno(pos));
        return null;
    }
    return pos;
}

export fn lw_fseek(f: *File, offset: c_longlong, whence: c_int) c_int {
    if (f.kind != .host) {
        setErrno(.ESPIPE);
        return -1;
    }
    if (!flushPending(f)) return -1;
    const w: Whence = if (whence == c.SEEK_SET) .set else if (whence == c.SEEK_CUR) .current else .end;
    var off: i64 = offset;
    if (w == .current) off -= f.buffered();
    f.dropReadAhead();
    f.at_eof = false;
    return if (hostSeek(f, off, w)) 0 else -1;
}

export fn lw_ftell(f: *File) c_longlong {
    if (f.kind != .host) {
        setErrno(.ESPIPE);
        return -1;
    }
    if (!flushPending(f)) return -1;
    const pos = hostPosition(f, 0, .current) orelse return -1;
    return pos - f.buffered();
}

// ---------------------------------------------------------------- stdin

/// The host functions of the input box (lua_wasm_kernel/stdin.py).
const input_function = "input";
const input_epoch_function = "input_epoch";
/// Arguments of "input": u32 count 2, the prompt "" and password false.
const input_args = [_]u8{ 2, 0, 0, 0, 0x04, 0, 0, 0, 0, 0x01, 0 };
const no_args = [_]u8{ 0, 0, 0, 0 };

/// Reads one line from the input box into stdin's buffer, with its "\n".
/// False at end of input, or for an empty line when `keep_empty` is false.
/// A refusal (no input allowed) or an interrupt raises a Lua error.
fn stdinLine(f: *File, keep_empty: bool) bool {
    std.debug.assert(f.buffered() == 0);
    const L = interrupt.current_thread;
    output.flush(); // the prompt before the input box
    const result = ffi.hostCall(input_function, &input_args);
    const len: u32 = if (result >= 0) @intCast(result) else @intCast(-(result + 1));
    // Without room the reply stays with the host, which drops it at its next call.
    if (!reserve(f, @max(len + 1, limits.file_buffer_size_bytes)))
        lua.raise(L, "not enough memory for a line of input");
    if (!ffi.hostTake(f.buffer[0..len])) lua.raise(L, "io.read: the host refused to hand over the input");
    if (interrupt.requested()) {
        interrupt.arm(L);
        lua.raise(L, "interrupted!");
    }
    if (result < 0) {
        // The message is copied first: a finalizer run by the pushes below
        // may read stdin again and reuse the buffer.
        _ = lua.pushSlice(L, f.buffer[0..len]);
        c.luaL_where(L, 1);
        _ = c.lua_pushfstring(L, "%s: ", inputWhere(L));
        c.lua_rotate(L, -3, -1);
        c.lua_concat(L, 3);
        _ = c.lua_error(L);
        unreachable;
    }
    const reply = f.buffer[0..len];
    if (reply.len == 1 and reply[0] == 0x00) return false; // nil: end of input
    if (reply.len < 5 or reply[0] != 0x04 or std.mem.readInt(u32, reply[1..5], .little) != reply.len - 5)
        lua.raise(L, "io.read: malformed reply from the input box");
    const line_len = reply.len - 5;
    std.mem.copyForwards(u8, f.buffer[0..line_len], reply[5..]);
    if (line_len == 0 and !keep_empty) return false;
    f.buffer[line_len] = '\n';
    f.next = f.buffer;
    f.end = f.buffer + line_len + 1;
    const now = inputEpoch();
    f.epoch = now orelse 0;
    f.epoch_known = now != null;
    return true;
}

/// "io.lines" inside a for loop's iterator, else "io.read": as errors named them before.
fn inputWhere(L: ?*lua.State) [*:0]const u8 {
    var ar: c.lua_Debug = undefined;
    if (c.lua_getstack(L, 0, &ar) != 0 and c.lua_getinfo(L, "n", &ar) != 0) {
        if (ar.name) |name| if (std.mem.eql(u8, std.mem.span(name), "for iterator")) return "io.lines";
    }
    return "io.read";
}

/// The host's input epoch (it changes with every cell), or null.
fn inputEpoch() ?i64 {
    const result = ffi.hostCall(input_epoch_function, &no_args);
    if (result != 9) return null; // the host drops an unread reply at its next call
    var reply: [9]u8 = undefined;
    if (!ffi.hostTake(&reply) or reply[0] != 0x02) return null;
    return std.mem.readInt(i64, reply[1..9], .little);
}

// ---------------------------------------------------------------- os

/// os.remove(name): loslib's, confined to the notebook's folder.
pub fn osRemove(L: ?*lua.State) callconv(.c) c_int {
    const name = c.luaL_checklstring(L, 1, null);
    const path = std.mem.span(name);
    return fileResult(L, host.lw_file_remove(path.ptr, @intCast(path.len)), name);
}

/// os.rename(from, to): loslib's, both names inside the notebook's folder.
pub fn osRename(L: ?*lua.State) callconv(.c) c_int {
    const from = std.mem.span(c.luaL_checklstring(L, 1, null));
    const to = std.mem.span(c.luaL_checklstring(L, 2, null));
    return fileResult(L, host.lw_file_rename(from.ptr, @intCast(from.len), to.ptr, @intCast(to.len)), null);
}

/// os.tmpname(): a new empty file in the notebook's folder, by name.
pub fn osTmpname(L: ?*lua.State) callconv(.c) c_int {
    var name: [limits.file_name_size_max_bytes]u8 = undefined;
    const n = host.lw_file_tmpname(&name, name.len);
    if (n <= 0 or n > name.len) return c.luaL_error(L, "unable to generate a unique filename");
    _ = lua.pushSlice(L, name[0..@intCast(n)]);
    return 1;
}

fn fileResult(L: ?*lua.State, result: i32, name: ?[*:0]const u8) c_int {
    if (result >= 0) {
        c.lua_pushboolean(L, 1);
        return 1;
    }
    setErrno(hostErrno(result));
    return c.luaL_fileresult(L, 0, name);
}

// ---------------------------------------------------------------- tests

const harness = @import("test_harness.zig");

test "liolib writes through the output path and refuses files the host refuses" {
    const L = harness.newState();
    defer c.lua_close(L);
    useHeap(&harness.heap);
    defer useHeap(&state.heap);
    c.luaL_requiref(L, "io", c.luaopen_io, 1);
    lua.pop(L, 1);
    var buffer: [limits.io_buffer_size_bytes]u8 = undefined;
    output.init(&buffer);
    ffi.native.captured_len = 0;
    try harness.run(L,
        \\assert(io.write("a", 1, 2.5) == io.stdout)
        \\assert(io.type(io.stdout) == "file" and io.type(42) == nil)
        \\local f, msg, code = io.open("/x.txt")
        \\assert(f == nil and msg == "/x.txt: Permission denied" and code == 13)
        \\assert(select(3, io.stdin:write("x")) == 9)
        \\assert(io.stdout:seek() == nil)
    );
    output.flush();
    try std.testing.expectEqualStrings("a12.5", ffi.native.captured[0..ffi.native.captured_len]);
}

test "stdin: a line at a time from the input box, liolib's formats over it" {
    const L = harness.newState();
    defer c.lua_close(L);
    useHeap(&harness.heap);
    defer useHeap(&state.heap);
    defer std_files[0] = File.init(.stdin, true, false); // its buffer was the test heap's
    interrupt.init(L);
    c.luaL_requiref(L, "io", c.luaopen_io, 1);
    lua.pop(L, 1);
    var buffer: [limits.io_buffer_size_bytes]u8 = undefined;
    output.init(&buffer);
    // Every host call answers the string "42 rest" (the native stand-in).
    ffi.native.host_reply = &.{ 0x04, 7, 0, 0, 0, '4', '2', ' ', 'r', 'e', 's', 't' };
    ffi.native.host_reply_is_error = false;
    try harness.run(L,
        \\local n, rest = io.read("n", "L")
        \\assert(n == 42 and rest == " rest\n", tostring(n) .. tostring(rest))
        \\assert(io.read(2) == "42" and io.read("l") == " rest")
    );
    try std.testing.expect(std.mem.startsWith(u8, ffi.native.host_last_name[0..ffi.native.host_last_name_len], "input"));
    ffi.native.host_reply = "this frontend does not allow input";
    ffi.native.host_reply_is_error = true;
    try harness.run(L,
        \\local ok, e = pcall(io.read)
        \\assert(not ok and e == "io.read: this frontend does not allow input", e)
    );
}

const folder = ffi.native.files;

test "a file written, then read back by lines, numbers and blocks" {
    const L = harness.engine();
    try harness.run(L,
        \\local f = assert(io.open("a.txt", "w"))
        \\assert(f:write("one\n", 2, "\n", 3.5, " 12 rest\n") == f)
        \\assert(f:close() == true)
        \\local lines = {}
        \\for l in io.lines("a.txt") do lines[#lines + 1] = l end
        \\assert(#lines == 3 and lines[1] == "one" and lines[2] == "2" and lines[3] == "3.5 12 rest")
        \\f = io.open("a.txt")
        \\assert(f:read("l") == "one" and f:read("n") == 2 and f:read("n") == 3.5 and f:read("n") == 12)
        \\assert(f:read(1) == " " and f:read("a") == "rest\n" and f:read("a") == "" and f:read(1) == nil)
        \\assert(f:read("l") == nil and f:read(0) == nil)
        \\f:close()
        \\assert(io.type(f) == "closed file")
    );
    try std.testing.expectEqualStrings("one\n2\n3.5 12 rest\n", folder.contents("a.txt").?);
}

test "seek and tell count the bytes read ahead and written behind" {
    const L = harness.engine();
    try harness.run(L,
        \\local f = assert(io.open("b.txt", "w+"))
        \\f:write("hello world")
        \\assert(f:seek("cur") == 11 and f:seek("end") == 11)
        \\assert(f:seek("set", 6) == 6 and f:read(5) == "world" and f:seek() == 11)
        \\assert(f:seek("set") == 0 and f:read(2) == "he" and f:seek("cur", 1) == 3 and f:read(1) == "l")
        \\assert(f:seek("set") == 0 and f:read(1) == "h")
        \\-- A write after a read puts the host's position back first.
        \\-- (f:seek() would too: nothing may come between.)
        \\f:write("J")
        \\assert(f:seek("cur", -2) == 0 and f:read("a") == "hJllo world")
        \\assert(f:seek("set", -5) == nil)
        \\f:close()
    );
    try std.testing.expectEqualStrings("hJllo world", folder.contents("b.txt").?);
}

test "long files: reads past the buffer, and straight to the destination" {
    const L = harness.engine();
    try harness.run(L,
        \\local f = assert(io.open("big", "wb"))
        \\local block = string.rep("0123456789", 4000)
        \\f:write(block)
        \\f:close()
        \\f = io.open("big", "rb")
        \\assert(f:read(40000) == block and f:read(1) == nil)
        \\f:seek("set", 5)
        \\assert(f:read(20000) == block:sub(6, 20005))
        \\assert(#f:read("a") == 19995)
        \\f:close()
        \\f = io.open("big", "a")
        \\f:write("!")
        \\f:close()
        \\assert(#io.open("big"):read("a") == 40001)
    );
}

test "setvbuf: none writes at once, line at each newline, full at flush" {
    const L = harness.engine();
    try harness.run(L, "f = io.open('c.txt', 'w'); f:write('a'); f:setvbuf('no')");
    try std.testing.expectEqualStrings("a", folder.contents("c.txt").?);
    try harness.run(L, "f:write('b')");
    try std.testing.expectEqualStrings("ab", folder.contents("c.txt").?);
    try harness.run(L, "f:setvbuf('line'); f:write('c')");
    try std.testing.expectEqualStrings("ab", folder.contents("c.txt").?);
    try harness.run(L, "f:write('d\\n')");
    try std.testing.expectEqualStrings("abcd\n", folder.contents("c.txt").?);
    try harness.run(L, "f:setvbuf('full'); f:write('e')");
    try std.testing.expectEqualStrings("abcd\n", folder.contents("c.txt").?);
    try harness.run(L, "f:flush()");
    try std.testing.expectEqualStrings("abcd\ne", folder.contents("c.txt").?);
    try harness.run(L, "f:write(string.rep('z', 20000)); f:close()");
    try std.testing.expectEqual(@as(usize, 20006), folder.contents("c.txt").?.len);
}

test "the host's errors come back as nil, message and errno" {
    const L = harness.engine();
    try harness.run(L,
        \\local f, msg, code = io.open("missing")
        \\assert(f == nil and msg == "missing: No such file or directory" and code == 2, msg)
        \\f = io.open("w.txt", "w")
        \\local none, msg2, code2 = f:read("a")
        \\assert(none == nil and msg2 == "Bad file descriptor" and code2 == 9, msg2)
        \\f:close()
        \\f = io.open("w.txt")
        \\assert(select(3, f:write("x")) == 9)
        \\f:close()
        \\g = io.open("w.txt", "w")
        \\g:write("pending")
    );
    folder.fail_errno = 28; // ENOSPC
    try harness.run(L,
        \\local ok, msg, code = g:flush()
        \\assert(ok == nil and msg == "No space left on device" and code == 28, msg)
        \\g:write("more")
        \\ok, msg, code = g:close()
        \\assert(ok == nil and code == 28, msg)
    );
    folder.fail_errno = 99; // unknown to the engine: an I/O error
    try harness.run(L,
        \\local f = io.open("w.txt")
        \\local ok, msg, code = f:read("a")
        \\assert(ok == nil and msg == "Input/output error" and code == 5, msg)
        \\assert(f:seek("set") == nil)
        \\f:close()
    );
    folder.fail_errno = 0;
}

test "os.remove, os.rename and os.tmpname work in the folder, and report failures" {
    const L = harness.engine();
    try harness.run(L,
        \\io.open("r.txt", "w"):close()
        \\assert(os.rename("r.txt", "s.txt") == true)
        \\assert(io.open("r.txt") == nil and io.open("s.txt"))
        \\local ok, msg, code = os.rename("r.txt", "t.txt")
        \\assert(ok == nil and msg == "No such file or directory" and code == 2, msg)
        \\ok, msg, code = os.rename("s.txt", "/etc/x")
        \\assert(ok == nil and code == 13, msg)
        \\assert(os.remove("s.txt") == true)
        \\ok, msg, code = os.remove("s.txt")
        \\assert(ok == nil and msg == "s.txt: No such file or directory" and code == 2, msg)
        \\local name = os.tmpname()
        \\assert(name:find("^lua_tmp") and io.open(name):read("a") == "")
        \\assert(os.remove(name))
    );
    folder.fail_errno = 28;
    defer folder.fail_errno = 0;
    try harness.run(L,
        \\local ok, msg = pcall(os.tmpname)
        \\assert(not ok and msg:find("unable to generate a unique filename"), msg)
    );
}

test "io.tmpfile is anonymous, and goes when closed" {
    const L = harness.engine();
    try harness.run(L,
        \\local f = io.tmpfile()
        \\f:write("abc")
        \\assert(f:seek("set") == 0 and f:read("a") == "abc")
        \\f:close()
    );
    for (folder.entries) |e| try std.testing.expect(!e.used);
}

test "a binary chunk is reopened in binary mode, then refused" {
    const L = harness.engine();
    try harness.run(L,
        \\io.open("chunk", "wb"):write("\27Lua..."):close()
        \\local f, msg = loadfile("chunk")
        \\assert(f == nil and msg:find("binary"), msg)
        \\io.open("src.lua", "w"):write("#!shebang\nreturn 6 * 7"):close()
        \\assert(loadfile("src.lua")() == 42 and dofile("src.lua") == 42)
    );
}

test "stdout and stderr go to the output; neither reads nor seeks" {
    const L = harness.engine();
    try harness.run(L,
        \\io.stdout:setvbuf("no")
        \\io.write("out")
        \\io.stderr:write("err")
        \\assert(io.stdout:flush() == true)
        \\local none, msg, code = io.stdout:read("l")
        \\assert(none == nil and code == 9, msg)
        \\assert(select(3, io.stderr:read(3)) == 9)
        \\assert(io.stdout:seek("set") == nil and io.stdin:seek() == nil)
        \\assert(io.stdin:flush() == true)
    );
    try std.testing.expectEqualStrings("outerr", ffi.native.captured[0..ffi.native.captured_len]);
    try std.testing.expectEqualStrings("err", ffi.native.captured_err[0..ffi.native.captured_err_len]);
}

var test_epoch: i64 = 1;
var test_epoch_reply: [9]u8 = undefined;

fn stdinReplies(name: []const u8) ?[]const u8 {
    if (!std.mem.eql(u8, name, input_epoch_function)) return null;
    test_epoch_reply[0] = 0x02;
    std.mem.writeInt(i64, test_epoch_reply[1..9], test_epoch, .little);
    return &test_epoch_reply;
}

test "stdin keeps a line's rest within a cell, and drops it in the next" {
    const L = harness.engine();
    defer std_files[0] = File.init(.stdin, true, false); // its buffer was this engine's
    ffi.native.host_reply = &.{ 0x04, 7, 0, 0, 0, '4', '2', ' ', 'r', 'e', 's', 't' };
    ffi.native.host_reply_for = stdinReplies;
    test_epoch = 1;
    try harness.run(L, "assert(io.read('n') == 42)");
    try harness.run(L, "assert(io.read(2) == ' r')"); // the same epoch: the rest stays
    test_epoch = 2;
    try harness.run(L, "assert(io.read('l') == '42 rest')"); // a new cell: a new line
    // End of input (nil), and an empty line, which ends a read of a size.
    ffi.native.host_reply = &.{0x00};
    try harness.run(L, "assert(io.read('l') == nil and io.read('a') == '')");
    ffi.native.host_reply = &.{ 0x04, 0, 0, 0, 0 };
    try harness.run(L, "assert(io.read('L') == '\\n' and io.read(5) == nil)");
    ffi.native.host_reply = &.{ 0x02, 1 };
    try harness.run(L,
        \\local ok, e = pcall(io.read)
        \\assert(not ok and e:find("io.read: malformed reply from the input box", 1, true), e)
    );
    ffi.native.host_reply = "no input here";
    ffi.native.host_reply_is_error = true;
    try harness.run(L,
        \\local ok, e = pcall(function() for l in io.lines() do end end)
        \\assert(not ok and e:find("io.lines: no input here", 1, true), e)
    );
}

fn stopDuringInput() void {
    interrupt.signals.interrupt = 1;
}

test "a stop while the input box waits interrupts the read" {
    const L = harness.engine();
    defer std_files[0] = File.init(.stdin, true, false);
    ffi.native.host_reply = &.{ 0x04, 1, 0, 0, 0, 'x' };
    ffi.native.on_host_call = stopDuringInput;
    defer interrupt.signals.interrupt = 0;
    try std.testing.expectEqualStrings("interrupted!", try harness.runError(L, "local ok, e = pcall(io.read); reached = true"));
    lua.pop(L, 1);
    interrupt.settle(L);
    try harness.run(L, "assert(reached == nil)");
}

test "strerror knows the host's error numbers, and only those" {
    try std.testing.expectEqualStrings("No space left on device", std.mem.span(lw_strerror(28)));
    try std.testing.expectEqualStrings("Too many levels of symbolic links", std.mem.span(lw_strerror(40)));
    try std.testing.expectEqualStrings("Unknown error", std.mem.span(lw_strerror(3)));
}
