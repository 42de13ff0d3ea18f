/*
** The sizes, offsets and constants that src/lua_c.zig declares by hand, as
** the C compiler sees them through Lua's headers (with src/lua_user.h) and
** the C library's. lua_c.zig's layoutMismatch compares them entry by entry
** (lw_init refuses to start on a mismatch; the unit tests check it too).
** Keep the order and spelling of the expressions in step with lua_c.zig:
** the unit tests compare the names too (the wasm module carries only the
** values; the order is the same on every target).
*/
#include <stddef.h>
#include <stdio.h>
#include <time.h>
#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"

#define FACTS(FACT) \
  FACT(sizeof(lua_Debug)) \
  FACT(offsetof(lua_Debug, event)) \
  FACT(offsetof(lua_Debug, name)) \
  FACT(offsetof(lua_Debug, namewhat)) \
  FACT(offsetof(lua_Debug, what)) \
  FACT(offsetof(lua_Debug, source)) \
  FACT(offsetof(lua_Debug, srclen)) \
  FACT(offsetof(lua_Debug, currentline)) \
  FACT(offsetof(lua_Debug, linedefined)) \
  FACT(offsetof(lua_Debug, lastlinedefined)) \
  FACT(offsetof(lua_Debug, nups)) \
  FACT(offsetof(lua_Debug, nparams)) \
  FACT(offsetof(lua_Debug, isvararg)) \
  FACT(offsetof(lua_Debug, istailcall)) \
  FACT(offsetof(lua_Debug, ftransfer)) \
  FACT(offsetof(lua_Debug, ntransfer)) \
  FACT(offsetof(lua_Debug, short_src)) \
  FACT(offsetof(lua_Debug, i_ci)) \
  FACT(sizeof(luaL_Buffer)) \
  FACT(offsetof(luaL_Buffer, b)) \
  FACT(offsetof(luaL_Buffer, size)) \
  FACT(offsetof(luaL_Buffer, n)) \
  FACT(offsetof(luaL_Buffer, L)) \
  FACT(offsetof(luaL_Buffer, init)) \
  FACT(LUAL_BUFFERSIZE) \
  FACT(sizeof(lua_Number)) \
  FACT(sizeof(lua_Integer)) \
  FACT(sizeof(lua_KContext)) \
  FACT(LUAI_MAXSTACK) \
  FACT(LUA_REGISTRYINDEX) \
  FACT(LUA_IDSIZE) \
  FACT(LUA_MULTRET) \
  FACT(LUA_OK) \
  FACT(LUA_ERRRUN) \
  FACT(LUA_ERRSYNTAX) \
  FACT(LUA_ERRMEM) \
  FACT(LUA_ERRERR) \
  FACT(LUA_TNIL) \
  FACT(LUA_TBOOLEAN) \
  FACT(LUA_TLIGHTUSERDATA) \
  FACT(LUA_TNUMBER) \
  FACT(LUA_TSTRING) \
  FACT(LUA_TTABLE) \
  FACT(LUA_TFUNCTION) \
  FACT(LUA_TUSERDATA) \
  FACT(LUA_GCCOLLECT) \
  FACT(LUA_GCCOUNT) \
  FACT(LUA_GCCOUNTB) \
  FACT(LUA_GCSTEP) \
  FACT(LUA_HOOKCOUNT) \
  FACT(LUA_MASKCOUNT) \
  FACT(sizeof(LUA_LOADED_TABLE)) \
  FACT(LUA_LOADED_TABLE[0]) \
  FACT(LUA_LOADED_TABLE[1]) \
  FACT(LUA_LOADED_TABLE[2]) \
  FACT(LUA_LOADED_TABLE[3]) \
  FACT(LUA_LOADED_TABLE[4]) \
  FACT(LUA_LOADED_TABLE[5]) \
  FACT(LUA_LOADED_TABLE[6]) \
  FACT(sizeof(time_t)) \
  FACT((time_t)-1 < 0) \
  FACT(sizeof(clock_t)) \
  FACT((clock_t)-1 < 0) \
  FACT(CLOCKS_PER_SEC) \
  FACT(sizeof(struct tm)) \
  FACT(offsetof(struct tm, tm_sec)) \
  FACT(offsetof(struct tm, tm_min)) \
  FACT(offsetof(struct tm, tm_hour)) \
  FACT(offsetof(struct tm, tm_mday)) \
  FACT(offsetof(struct tm, tm_mon)) \
  FACT(offsetof(struct tm, tm_year)) \
  FACT(offsetof(struct tm, tm_wday)) \
  FACT(offsetof(struct tm, tm_yday)) \
  FACT(offsetof(struct tm, tm_isdst)) \
  FACT(_IOLBF) \
  FACT(_IONBF) \
  FACT(SEEK_SET) \
  FACT(SEEK_CUR)

#define FACT_VALUE(expr) (long long)(expr),
const long long lw_c_fact_values[] = { FACTS(FACT_VALUE) };
const int lw_c_fact_count = sizeof(lw_c_fact_values) / sizeof(lw_c_fact_values[0]);

#if !defined(__wasm__)
#define FACT_NAME(expr) #expr,
const char *const lw_c_fact_names[] = { FACTS(FACT_NAME) };
#endif
