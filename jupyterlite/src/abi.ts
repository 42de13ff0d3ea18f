// The TypeScript mirror of the wasm ABI (docs/ABI.md; lua_wasm_kernel/abi.py).
// src/limits.zig owns the limits; tests/lite/test_lite_package.py checks these
// against abi.py, which tests/test_module.py checks against the built module.

export const ABI_VERSION = 8;
export const IO_BUFFER_SIZE_BYTES = 64 * 1024;
export const WASM_PAGE_SIZE_BYTES = 64 * 1024;
export const SERIALIZE_DEPTH_MAX = 64;
export const MEMORY_SIZE_MIN_BYTES = 512 * 1024;
export const MEMORY_SIZE_MAX_BYTES = 65535 * 64 * 1024;
export const MEMORY_SIZE_DEFAULT_BYTES = 2 * 1024 * 1024;
export const HOST_CALL_NAME_SIZE_MAX_BYTES = 256;
export const CHUNK_NAME_SIZE_MAX_BYTES = 256;
export const EXT_TABLE_NAME_SIZE_MAX_BYTES = 256;
export const OOM_WHERE_SOURCE_SIZE_BYTES = 60;
/** Host-only: how long a completion, inspect or is_complete may run Lua before it is stopped. */
export const INTROSPECTION_TIME_MAX_SECONDS = 2;
// package.searchpath's file names to try, all together (a name times a path of "?"s).
export const SEARCH_NAMES_SIZE_MAX_CHARS = 1024 * 1024;

/** What an eval returns (error.zig: Status), plus the host-only TRAPPED. */
export const Status = {
  OK: 0,
  SYNTAX_ERROR: 1,
  RUNTIME_ERROR: 2,
  OUT_OF_MEMORY: 3,
  INTERRUPTED: 4,
  BAD_INPUT: 5,
  TRAPPED: 100
} as const;

/** Value tags of the serialized format (docs/FORMAT.md). */
export const Tag = {
  NIL: 0x00,
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  FLOAT: 0x03,
  STRING: 0x04,
  TABLE: 0x05,
  CYCLE: 0x06,
  OPAQUE: 0x07,
  TRUNCATED: 0x08
} as const;

/** Linux error numbers of the lw_file_* imports (files.zig: Errno). */
export const Errno = { ENOENT: 2, EIO: 5, EBADF: 9, EACCES: 13, EINVAL: 22, EMFILE: 24, EFBIG: 27, EROFS: 30 } as const;

export const Stream = { STDOUT: 1, STDERR: 2 } as const;
export const Clock = { WALL_SECONDS: 0, CPU_SECONDS: 1 } as const;

/** interrupt.Layout in src/interrupt.zig: fourteen u32 words, in this order. */
export const INTERRUPT_LAYOUT_FIELDS = [
  'signals_addr',
  'current_thread_addr',
  'hook_fn',
  'hook_mask',
  'off_hook',
  'off_hookmask',
  'off_basehookcount',
  'off_hookcount',
  'off_ci',
  'off_ci_trap',
  'off_ci_previous',
  'off_ci_callstatus',
  'cist_c',
  'output_ring_addr'
] as const;

export const EXPORTS = [
  'lw_abi_version',
  'lw_io_buffer',
  'lw_io_buffer_size',
  'lw_init',
  'lw_input_reserve',
  'lw_eval',
  'lw_reply_ptr',
  'lw_reply_len',
  'lw_memory_used',
  'lw_memory_peak',
  'lw_memory_limit',
  'lw_memory_heap_capacity',
  'lw_lua_count',
  'lw_gc',
  'lw_interrupt_layout',
  'lw_limits',
  'lw_oom_where'
] as const;

export const IMPORTS = [
  'memory',
  'lw_host_output',
  'lw_host_now',
  'lw_host_call',
  'lw_host_take',
  'lw_ext_get',
  'lw_ext_set',
  'lw_ext_len',
  'lw_ext_next',
  'lw_file_open',
  'lw_file_read',
  'lw_file_write',
  'lw_file_seek',
  'lw_file_close',
  'lw_file_remove',
  'lw_file_rename',
  'lw_file_tmpname'
] as const;
