/*
** Binary chunks are refused. ldo.c's one call to luaU_undump comes here
** (src/lua_user.h), so load, require, the cells and every other lua_load
** path accept source text only: crafted bytecode could otherwise read and
** write the VM's memory at will. The error is a syntax error, worded like
** ldo.c's own for a load with mode "t".
*/
#include "lprefix.h"
#include "lua.h"
#include "ldo.h"
#include "lobject.h"
#include "lzio.h"

LUAI_FUNC LClosure *lw_undump_refused (lua_State *L, ZIO *Z, const char *name);

LClosure *lw_undump_refused (lua_State *L, ZIO *Z, const char *name) {
  (void)Z; (void)name;
  luaO_pushfstring(L, "attempt to load a binary chunk "
                      "(not allowed in the lua-wasm sandbox)");
  luaD_throw(L, LUA_ERRSYNTAX);
  return NULL;  /* not reached */
}
