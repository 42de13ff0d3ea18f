//! Every limit of the engine, in one place, with its unit in the name.
//! The Python mirror is `lua_wasm_kernel/abi.py`; `docs/ABI.md` documents both.

/// Version of the host ABI; bumped whenever an export, import or layout changes.
pub const abi_version: u32 = 4;

/// The IO buffer: the output ring (src/output.zig).
pub const io_buffer_size_bytes: u32 = 64 * 1024;

/// The shadow (C) stack, placed first in memory so an overflow traps.
/// cstack.lua peaks at about 185 KB; 128 KB was too small.
pub const stack_size_bytes: u32 = 256 * 1024;

/// Default total linear memory; the host may choose another size per instance.
pub const memory_size_default_bytes: u32 = 2 * 1024 * 1024;

/// Wasm page size.
pub const wasm_page_size_bytes: u32 = 64 * 1024;

/// Serialization of tables by value: nesting depth and total items.
pub const serialize_depth_max: u32 = 64;
pub const serialize_items_max: u32 = 1_000_000;

/// Longest name of a host function (src/hostcall.zig).
pub const host_call_name_size_max_bytes: u32 = 256;

/// Longest chunk name accepted from the host.
pub const chunk_name_size_max_bytes: u32 = 256;

/// Lua stack slots (mirrors LUAI_MAXSTACK in lua_user.h).
pub const lua_stack_slots_max: u32 = 20_000;

/// Longest name of an external table (src/ext.zig).
pub const ext_table_name_size_max_bytes: u32 = 256;
