//! Builds lua.wasm: Lua 5.4.8 (fetched, never committed) plus src/*.zig.
//!   python -m ziglang build -Dlua-src=build/lua54 --prefix lua_wasm_kernel
//!   python -m ziglang build test -Dlua-src=build/lua54
//! `python hatch_build.py` fetches the sources and runs the first command.
const std = @import("std");
const limits = @import("src/limits.zig");

/// Lua's core and safe libraries. Left out: lua.c, onelua.c, ltests.c, and
/// loslib.c, linit.c (processes); the sandbox's os lives in src/libs.zig and
/// src/prelude.lua. liolib.c runs over the confined file layer of
/// src/files.zig (src/lw_stdio.h). loadlib.c is built without dlopen and
/// with its file and getenv calls stubbed (src/lua_user.h).
const lua_sources = [_][]const u8{
    "lapi.c",    "lcode.c",    "lctype.c",   "ldebug.c",  "ldo.c",     "ldump.c",
    "lfunc.c",   "lgc.c",      "llex.c",     "lmem.c",    "lobject.c", "lopcodes.c",
    "lparser.c", "lstate.c",   "lstring.c",  "ltable.c",  "ltm.c",     "lundump.c",
    "lvm.c",     "lzio.c",     "lauxlib.c",  "lbaselib.c", "lcorolib.c", "ldblib.c",
    "lmathlib.c", "lstrlib.c", "ltablib.c",  "lutf8lib.c", "loadlib.c",
    "liolib.c",
};

/// Every export of the module (src/main.zig); nothing else leaves it.
const exports = [_][]const u8{
    "lw_abi_version",    "lw_io_buffer",     "lw_io_buffer_size", "lw_init",
    "lw_input_reserve",  "lw_eval",          "lw_reply_ptr",      "lw_reply_len",
    "lw_memory_used",    "lw_memory_peak",   "lw_memory_limit",   "lw_memory_heap_capacity",
    "lw_lua_count",      "lw_gc",            "lw_interrupt_layout", "lw_limits",
    "lw_oom_where",
};

const c_flags = [_][]const u8{ "-std=c99", "-Dl_signalT=int", "-fno-strict-aliasing" };

/// setjmp/longjmp as wasm exceptions (see src/sjlj.c).
const wasm_sjlj_flags = [_][]const u8{ "-mllvm", "-wasm-enable-sjlj", "-mllvm", "-wasm-use-legacy-eh=false" };

pub fn build(b: *std.Build) void {
    const lua_src = b.option([]const u8, "lua-src", "Folder of the Lua 5.4.8 sources") orelse "build/lua54";
    const optimize = b.option(std.builtin.Optimize, "optimize", "Optimize mode (default: fast)") orelse .fast;
    // The check build: the TLSF heap's consistency check runs as every eval
    // starts and traps on corruption (tests/test_interrupt.py's stress test).
    const heap_check = b.option(bool, "heap-check", "Check the heap after every eval (default: false)") orelse false;
    const options = b.addOptions();
    options.addOption(bool, "heap_check", heap_check);

    const wasm_target = b.resolveTargetQuery(.{
        .cpu_arch = .wasm32,
        .os_tag = .wasi,
        .cpu_features_add = std.Target.wasm.featureSet(&.{.exception_handling}),
        // No bulk memory: memory.copy/fill would run as wasmtime libcalls in
        // host code, where the interrupt escalation's mprotect would crash the
        // process instead of trapping (docs/ABI.md, "Interrupts and streaming").
        .cpu_features_sub = std.Target.wasm.featureSet(&.{ .bulk_memory, .bulk_memory_opt }),
    });
    const mod = b.createModule(.{
        .root_source_file = b.path("src/main.zig"),
        .target = wasm_target,
        .optimize = optimize,
        .link_libc = true,
        .strip = true,
        .stack_protector = false,
        .sanitize_c = .off,
    });
    mod.addOptions("build_options", options);
    addLua(b, mod, lua_src, &(c_flags ++ wasm_sjlj_flags));
    mod.addCSourceFile(.{ .file = b.path("src/sjlj.c"), .flags = &wasm_sjlj_flags });
    mod.export_symbol_names = &exports;

    const exe = b.addExecutable(.{ .name = "lua", .root_module = mod });
    exe.entry = .disabled;
    exe.wasi_exec_model = .reactor;
    exe.import_memory = true;
    exe.stack_size = limits.stack_size_bytes;
    const install = b.addInstallFileWithDir(exe.getEmittedBin(), .prefix, "lua.wasm");
    b.getInstallStep().dependOn(&install.step);

    const test_mod = b.createModule(.{
        .root_source_file = b.path("src/tests.zig"),
        .target = b.graph.host,
        .optimize = .debug,
        .link_libc = true,
    });
    test_mod.addOptions("build_options", options);
    addLua(b, test_mod, lua_src, &c_flags);
    const tests = b.addTest(.{ .root_module = test_mod });
    const test_step = b.step("test", "Run the engine's unit tests (native)");
    test_step.dependOn(&b.addRunArtifact(tests).step);
}

fn addLua(b: *std.Build, mod: *std.Build.Module, lua_src: []const u8, flags: []const []const u8) void {
    const src = b.path("src");
    const lua_dir: std.Build.LazyPath = .{ .cwd_relative = lua_src };
    const api = b.addTranslateC(.{
        .root_source_file = b.path("src/lua_api.h"),
        .target = mod.resolved_target.?,
        .optimize = mod.optimize.?,
    });
    api.addIncludePath(lua_dir);
    api.addIncludePath(src);
    api.defineCMacro("LUA_USER_H", "\"lua_user.h\"");
    api.defineCMacro("l_signalT", "int");
    mod.addImport("c", api.createModule());
    mod.addIncludePath(lua_dir);
    mod.addIncludePath(src);
    mod.addCMacro("LUA_USER_H", "\"lua_user.h\"");
    mod.addCMacro("l_signalT", "int");
    mod.addCSourceFiles(.{ .root = lua_dir, .files = &lua_sources, .flags = flags });
    mod.addCSourceFile(.{ .file = b.path("src/hook_layout.c"), .flags = flags });
    mod.addCSourceFile(.{ .file = b.path("src/undump_refused.c"), .flags = flags });
    mod.addCSourceFile(.{ .file = b.path("src/box_alloc.c"), .flags = flags });
    mod.addCSourceFile(.{ .file = b.path("src/numfmt.c"), .flags = flags });
}
