"""The Python mirror of the wasm ABI (src/main.zig, src/limits.zig, docs/ABI.md).

Keep this file, the Zig constants and docs/ABI.md in step: tests/test_abi.py
checks the numbers against the built module.
"""
from __future__ import annotations

import enum

ABI_VERSION = 4
IO_BUFFER_SIZE_BYTES = 64 * 1024
WASM_PAGE_SIZE_BYTES = 64 * 1024
MEMORY_SIZE_DEFAULT_BYTES = 2 * 1024 * 1024
CHUNK_NAME_SIZE_MAX_BYTES = 256
HOST_CALL_NAME_SIZE_MAX_BYTES = 256
EXT_TABLE_NAME_SIZE_MAX_BYTES = 256


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
)

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
    "lw_ext_take",
)
