/*
** Offsets of the lua_State and CallInfo fields that the host's interrupt
** thread writes (the same fields lua.c's SIGINT handler arms through
** lua_sethook). Computed from Lua's own headers, so the host never
** hard-codes a struct layout. See docs/ABI.md, "Interrupts".
*/
#include <stddef.h>
#include "lstate.h"

const unsigned lw_lua_offsets[9] = {
  offsetof(lua_State, hook),
  offsetof(lua_State, hookmask),
  offsetof(lua_State, basehookcount),
  offsetof(lua_State, hookcount),
  offsetof(lua_State, ci),
  offsetof(CallInfo, u.l.trap),
  /* To find the nearest Lua frame when a C function is running: the trap
  ** field of a C frame's CallInfo overlaps u.c.old_errfunc. */
  offsetof(CallInfo, previous),
  offsetof(CallInfo, callstatus),
  CIST_C,
};

/* Blocks of these sizes may be written by the watcher after the VM freed
** them; src/quarantine.zig holds their frees back. LX is lstate.c's. */
typedef struct { lu_byte extra_[LUA_EXTRASPACE]; lua_State l; } lw_LX;
const unsigned lw_watched_sizes[2] = { sizeof(CallInfo), sizeof(lw_LX) };

/* The host writes these widths: keep them in step with docs/ABI.md. */
#if defined(__wasm__)
_Static_assert(sizeof(((lua_State *)0)->hook) == 4, "hook is a u32 table index");
_Static_assert(sizeof(((lua_State *)0)->hookmask) == 4, "hookmask is an int");
_Static_assert(sizeof(((lua_State *)0)->basehookcount) == 4, "basehookcount is an int");
_Static_assert(sizeof(((lua_State *)0)->hookcount) == 4, "hookcount is an int");
_Static_assert(sizeof(((CallInfo *)0)->u.l.trap) == 4, "trap is an int");
_Static_assert(sizeof(((CallInfo *)0)->callstatus) == 2, "callstatus is a u16");
#endif
