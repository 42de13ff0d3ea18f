"""The Python mirror of the wasm ABI (src/main.zig, src/limits.zig, docs/ABI.md).

The limits below mirror src/limits.zig, which owns them: the module exports
their names and values (lw_limits), and tests/test_module.py checks every
one against this file. The export list mirrors build.zig's `exports`, which
owns it; the same test checks this list, the built module and docs/ABI.md.
"""
from __future__ import annotations

import enum

# src/limits.zig: each name is its Zig name in capitals.
ABI_VERSION = 8
IO_BUFFER_SIZE_BYTES = 64 * 1024
STACK_SIZE_BYTES = 256 * 1024
WASM_PAGE_SIZE_BYTES = 64 * 1024
SERIALIZE_DEPTH_MAX = 64
SERIALIZE_ITEMS_MAX = 1_000_000
# The memory sizes a VM accepts (host policy; LuaVM and config.py check them).
# Below 448 KiB the Lua state or the kernel's helpers do not fit (the shadow
# stack alone takes 256 KiB); 512 KiB leaves room to run a cell. Above
# 65535 pages the size no longer fits the engine's u32 byte counts.
MEMORY_SIZE_MIN_BYTES = 512 * 1024
MEMORY_SIZE_MAX_BYTES = 65535 * 64 * 1024
HOST_CALL_NAME_SIZE_MAX_BYTES = 256
CHUNK_NAME_SIZE_MAX_BYTES = 256
EXT_TABLE_NAME_SIZE_MAX_BYTES = 256
FILE_BUFFER_SIZE_BYTES = 16 * 1024
FILE_NAME_SIZE_MAX_BYTES = 256

# Host-only: the kernel's default memory_limit (config.py); the engine takes
# whatever memory the host gives it.
MEMORY_SIZE_DEFAULT_BYTES = 2 * 1024 * 1024
# Host-only: package.searchpath's file names to try, all together (modules.py,
# site_modules.ts): a hostile name and path multiply into one string.
SEARCH_NAMES_SIZE_MAX_CHARS = 1024 * 1024
# Host-only: how long a completion, inspect or is_complete may run Lua (the
# cell may have replaced what introspect.lua calls) before it is interrupted.
INTROSPECTION_TIME_MAX_SECONDS = 2.0

class Status(enum.IntEnum):
    """What an eval returns (error.zig: Status), plus host-only outcomes."""

    OK = 0
    SYNTAX_ERROR = 1
    RUNTIME_ERROR = 2
    OUT_OF_MEMORY = 3
    INTERRUPTED = 4
    BAD_INPUT = 5
    # Host-only: the instance trapped and was rebuilt; Lua state was lost.
    TRAPPED = 100


class Tag(enum.IntEnum):
    """Value tags of the serialized format (serializer.zig: Tag, docs/FORMAT.md)."""

    NIL = 0x00
    BOOLEAN = 0x01
    INTEGER = 0x02
    FLOAT = 0x03
    STRING = 0x04
    TABLE = 0x05
    CYCLE = 0x06
    OPAQUE = 0x07
    TRUNCATED = 0x08


class Errno(enum.IntEnum):
    """Error numbers of the lw_file_* imports (files.zig: Errno): Linux's."""

    EPERM = 1
    ENOENT = 2
    EIO = 5
    EBADF = 9
    ENOMEM = 12
    EACCES = 13
    EEXIST = 17
    EXDEV = 18
    ENOTDIR = 20
    EISDIR = 21
    EINVAL = 22
    EMFILE = 24
    EFBIG = 27
    ENOSPC = 28
    ESPIPE = 29
    EROFS = 30
    ENAMETOOLONG = 36
    ENOTEMPTY = 39
    ELOOP = 40


class Stream(enum.IntEnum):
    """Output streams of lw_host_output."""

    STDOUT = 1
    STDERR = 2


class Clock(enum.IntEnum):
    """Clocks of lw_host_now."""

    WALL_SECONDS = 0
    CPU_SECONDS = 1


# interrupt.Layout in src/interrupt.zig: fourteen u32 words, in this order.
INTERRUPT_LAYOUT_FIELDS = (
    "signals_addr",
    "current_thread_addr",
    "hook_fn",
    "hook_mask",
    "off_hook",
    "off_hookmask",
    "off_basehookcount",
    "off_hookcount",
    "off_ci",
    "off_ci_trap",
    "off_ci_previous",
    "off_ci_callstatus",
    "cist_c",
    "output_ring_addr",
)

EXPORTS = (
    "lw_abi_version",
    "lw_io_buffer",
    "lw_io_buffer_size",
    "lw_init",
    "lw_input_reserve",
    "lw_eval",
    "lw_reply_ptr",
    "lw_reply_len",
    "lw_memory_used",
    "lw_memory_peak",
    "lw_memory_limit",
    "lw_memory_heap_capacity",
    "lw_lua_count",
    "lw_gc",
    "lw_interrupt_layout",
    "lw_limits",
    "lw_oom_where",
)
# oom.Where in src/oom.zig: a u32 line, then the source (LUA_IDSIZE bytes, NUL-terminated).
OOM_WHERE_SOURCE_SIZE_BYTES = 60

IMPORTS = (
    "memory",
    "lw_host_output",
    "lw_host_now",
    "lw_host_call",
    "lw_host_take",
    "lw_ext_get",
    "lw_ext_set",
    "lw_ext_len",
    "lw_ext_next",
    "lw_file_open",
    "lw_file_read",
    "lw_file_write",
    "lw_file_seek",
    "lw_file_close",
    "lw_file_remove",
    "lw_file_rename",
    "lw_file_tmpname",
)
