/*
** lauxlib's string buffers (string.rep, table.concat, string.format...)
** grow their box by calling the state's allocator directly, so a failure
** there raises "not enough memory" without the emergency collection that
** every other allocation gets (lmem.c's tryagain). In a 2 MiB heap the
** garbage of an earlier failed cell is then still in the way. lauxlib.c's
** one lua_getallocf call comes here (src/lua_user.h): the same allocator,
** with lmem.c's retry after an emergency collection.
*/
#include "lprefix.h"
#include "lua.h"
#include "lgc.h"
#include "lstate.h"

static void *box_alloc (void *ud, void *ptr, size_t osize, size_t nsize) {
  lua_State *L = (lua_State *)ud;
  global_State *g = G(L);
  void *block = g->frealloc(g->ud, ptr, osize, nsize);
  if (block == NULL && nsize > 0 && completestate(g) && !g->gcstopem) {
    luaC_fullgc(L, 1);  /* as lmem.c's tryagain: no finalizers run */
    block = g->frealloc(g->ud, ptr, osize, nsize);
  }
  return block;
}

lua_Alloc lw_box_allocf (lua_State *L, void **ud) {
  *ud = L;
  return box_alloc;
}
