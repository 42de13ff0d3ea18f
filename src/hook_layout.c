/*
** Offsets of the lua_State and CallInfo fields that the host's interrupt
** thread writes (the same fields lua.c's SIGINT handler arms through
** lua_sethook). Computed from Lua's own headers, so the host never
** hard-codes a struct layout. See docs/ABI.md, "Interrupts".
*/
#include <stddef.h>
#include "lstate.h"

const unsigned lw_lua_offsets[6] = {
  offsetof(lua_State, hook),
  offsetof(lua_State, hookmask),
  offsetof(lua_State, basehookcount),
  offsetof(lua_State, hookcount),
  offsetof(lua_State, ci),
  offsetof(CallInfo, u.l.trap),
};
