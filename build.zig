//! Builds lua.wasm: Lua 5.4.8 (fetched, never committed) plus src/*.zig.
//!   python -m ziglang build -Dlua-src=build/lua54 --prefix lua_wasm_kernel
//!   python -m ziglang build test -Dlua-src=build/lua54
//! `python hatch_build.py` fetches the sources and runs the same compile as
//! the first command without zig build (one `zig build-exe`, no build runner
//! to compile first). Sources, flags, target features and exports live in
//! src/build.zon, which both read: change them there.
const std = @import("std");
const limits = @import("src/limits.zig");

const Manifest = struct {
    lua_sources: []const []const u8,
    c_sources: []const []const u8,
    wasm_only_c_sources: []const []const u8,
    cold_sources: []const []const u8,
    cold_flags: []const []const u8,
    c_flags: []const []const u8,
    c_macros: []const []const u8,
    wasm_flags: []const []const u8,
    wasm_target: []const u8,
    wasm_cpu_features_add: []const []const u8,
    wasm_cpu_features_sub: []const []const u8,
    optimize: []const u8,
    exports: []const []const u8,
};
const manifest: Manifest = @import("src/build.zon");

comptime {
    @setEvalBranchQuota(100_000);
    for (manifest.cold_sources) |name| {
        var known = false;
        for (manifest.lua_sources ++ manifest.c_sources) |file| known = known or std.mem.eql(u8, name, file);
        if (!known) @compileError("src/build.zon: .cold_sources names " ++ name ++ ", of neither .lua_sources nor .c_sources");
    }
}

pub fn build(b: *std.Build) void {
    const lua_src = b.option([]const u8, "lua-src", "Folder of the Lua 5.4.8 sources") orelse "build/lua54";
    const default_optimize = std.meta.stringToEnum(std.builtin.Optimize, manifest.optimize) orelse
        @panic("src/build.zon: unknown optimize mode");
    const optimize = b.option(std.builtin.Optimize, "optimize", "Optimize mode (default: src/build.zon's)") orelse default_optimize;
    // The check build: the TLSF heap's consistency check runs as every eval
    // starts and traps on corruption (tests/test_interrupt.py's stress test).
    const heap_check = b.option(bool, "heap-check", "Check the heap after every eval (default: false)") orelse false;
    const options = b.addOptions();
    options.addOption(bool, "heap_check", heap_check);

    const wasm_target = b.resolveTargetQuery(wasmQuery() catch |e| std.debug.panic("src/build.zon: {s}", .{@errorName(e)}));
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
    const wasm_c_flags = std.mem.concat(b.allocator, []const u8, &.{ manifest.c_flags, manifest.wasm_flags }) catch @panic("OOM");
    addC(b, mod, lua_src, wasm_c_flags, .hot);
    for (manifest.wasm_only_c_sources) |file|
        mod.addCSourceFile(.{ .file = b.path(b.pathJoin(&.{ "src", file })), .flags = manifest.wasm_flags });
    // The cold files last, for size (hatch_build.py's order, so both give the same bytes).
    const cold_c_flags = std.mem.concat(b.allocator, []const u8, &.{ wasm_c_flags, manifest.cold_flags }) catch @panic("OOM");
    addCFiles(b, mod, lua_src, cold_c_flags, .cold);
    mod.export_symbol_names = manifest.exports;

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
    addC(b, test_mod, lua_src, manifest.c_flags, .all);
    // The unit tests alone translate Lua's headers, to check src/lua_c.zig's
    // hand-written declarations against them (src/lua_c_check.zig).
    const api = b.addTranslateC(.{
        .root_source_file = b.path("src/lua_api.h"),
        .target = b.graph.host,
        .optimize = .debug,
    });
    api.addIncludePath(.{ .cwd_relative = lua_src });
    api.addIncludePath(b.path("src"));
    for (manifest.c_macros) |macro| {
        const eq = std.mem.indexOfScalar(u8, macro, '=') orelse macro.len;
        api.defineCMacro(macro[0..eq], if (eq < macro.len) macro[eq + 1 ..] else null);
    }
    test_mod.addImport("lua_api_translated", api.createModule());
    const tests = b.addTest(.{ .root_module = test_mod });
    const test_step = b.step("test", "Run the engine's unit tests (native)");
    test_step.dependOn(&b.addRunArtifact(tests).step);
}

/// src/build.zon's wasm target and CPU features.
fn wasmQuery() !std.Target.Query {
    var query = try std.Target.Query.parse(.{ .arch_os_abi = manifest.wasm_target });
    inline for (.{ manifest.wasm_cpu_features_add, manifest.wasm_cpu_features_sub }, 0..) |names, i| {
        var set = std.Target.Cpu.Feature.Set.empty;
        for (names) |name| {
            const feature = std.meta.stringToEnum(std.Target.wasm.Feature, name) orelse return error.UnknownCpuFeature;
            set.addFeature(@intFromEnum(feature));
        }
        if (i == 0) query.cpu_features_add = set else query.cpu_features_sub = set;
    }
    return query;
}

/// Which of Lua's C sources and ours: all, or those src/build.zon calls cold or not.
const Temperature = enum { all, hot, cold };

/// Lua's C sources and ours, with src/build.zon's include paths and macros.
fn addC(b: *std.Build, mod: *std.Build.Module, lua_src: []const u8, flags: []const []const u8, which: Temperature) void {
    mod.addIncludePath(.{ .cwd_relative = lua_src });
    mod.addIncludePath(b.path("src"));
    for (manifest.c_macros) |macro| {
        const eq = std.mem.indexOfScalar(u8, macro, '=') orelse macro.len;
        mod.addCMacro(macro[0..eq], if (eq < macro.len) macro[eq + 1 ..] else "");
    }
    addCFiles(b, mod, lua_src, flags, which);
}

/// The C files of one temperature: Lua's, then ours.
fn addCFiles(b: *std.Build, mod: *std.Build.Module, lua_src: []const u8, flags: []const []const u8, which: Temperature) void {
    mod.addCSourceFiles(.{ .root = .{ .cwd_relative = lua_src }, .files = pick(b, manifest.lua_sources, which), .flags = flags });
    mod.addCSourceFiles(.{ .root = b.path("src"), .files = pick(b, manifest.c_sources, which), .flags = flags });
}

/// The files of `files` of the given temperature, in their order.
fn pick(b: *std.Build, files: []const []const u8, which: Temperature) []const []const u8 {
    if (which == .all) return files;
    const picked = b.allocator.alloc([]const u8, files.len) catch @panic("OOM");
    var count: usize = 0;
    for (files) |file| {
        var cold = false;
        for (manifest.cold_sources) |name| cold = cold or std.mem.eql(u8, name, file);
        if (cold == (which == .cold)) {
            picked[count] = file;
            count += 1;
        }
    }
    return picked[0..count];
}
