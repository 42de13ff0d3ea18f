/*
** lvm.c with its hottest calls out of the interpreter loop done in line.
** The fetched lvm.c is included unchanged below, after seven names it uses
** are pointed at the functions here. Each takes the common case in line and
** hands anything else to the real function, so behaviour is upstream's.
** Why: wasmtime compiles each wasm call as a real call (no inlining across
** functions), and luaV_execute keeps more live values than x86-64 has
** callee-saved registers, so every call out of it costs a frame and spills.
** docs/BENCHMARKS.md (issue 9, "Fourth pass") has the numbers.
*/
#define lvm_c
#define LUA_CORE

#include "lprefix.h"

#include "lua.h"

#include "lapi.h"
#include "ldo.h"
#include "lobject.h"
#include "lstate.h"
#include "ltable.h"
#include "lstring.h"
#include "lvm.h"


/* luaH_getshortstr, the key's main position tried first: most reads of a
** field, a method or a global find their key there. */
static l_inline const TValue *lw_getshortstr (Table *t, TString *key) {
  Node *n = gnode(t, lmod(key->hash, sizenode(t)));
  if (l_likely(keyisshrstr(n) && keystrval(n) == key))
    return gval(n);
  return luaH_getshortstr(t, key);
}


/* luaH_getstr, short strings through lw_getshortstr. */
static l_inline const TValue *lw_getstr (Table *t, TString *key) {
  if (key->tt == LUA_VSHRSTR)
    return lw_getshortstr(t, key);
  return luaH_getstr(t, key);
}


/* luaH_get, short strings through lw_getshortstr (the __index chain of
** luaV_finishget, a string key in a register). */
static l_inline const TValue *lw_get (Table *t, const TValue *key) {
  if (ttisshrstring(key))
    return lw_getshortstr(t, tsvalue(key));
  return luaH_get(t, key);
}


/* luaV_rawequalobj (OP_EQK): values of one variant compared in line. */
static l_inline int lw_rawequal (const TValue *t1, const TValue *t2) {
  if (ttypetag(t1) == ttypetag(t2)) {
    switch (ttypetag(t1)) {
      case LUA_VNIL: case LUA_VFALSE: case LUA_VTRUE: return 1;
      case LUA_VNUMINT: return (ivalue(t1) == ivalue(t2));
      case LUA_VNUMFLT: return luai_numeq(fltvalue(t1), fltvalue(t2));
      case LUA_VSHRSTR: return eqshrstr(tsvalue(t1), tsvalue(t2));
      default: break;
    }
  }
  return luaV_equalobj(NULL, t1, t2);
}


/* luaD_poscall (a C function's return, OP_RETURN) when no hook is set and
** 0 or 1 results are wanted: ldo.c's moveresults for those two cases. */
static l_inline __attribute__((always_inline)) void lw_poscall (lua_State *L, CallInfo *ci, int nres) {
  int wanted = ci->nresults;
  StkId res = ci->func.p;
  if (l_likely(!L->hookmask && (wanted == 0 || wanted == 1))) {
    if (wanted == 1) {
      if (nres == 0)
        setnilvalue(s2v(res));
      else
        setobjs2s(L, res, L->top.p - nres);
      res++;
    }
    L->top.p = res;
    L->ci = ci->previous;
  }
  else
    luaD_poscall(L, ci, nres);
}


/* luaD_precall when the frame needs no stack growth and its CallInfo
** exists: ldo.c's steps for a Lua function (prepCallInfo, savedpc, missing
** arguments) and for a C function with no call hook (precallC). */
static l_inline __attribute__((always_inline)) CallInfo *lw_precall (lua_State *L, StkId func, int nresults) {
  CallInfo *ci = L->ci->next;
  if (l_unlikely(ci == NULL))
    return luaD_precall(L, func, nresults);
  if (ttisLclosure(s2v(func))) {
    Proto *p = clLvalue(s2v(func))->p;
    int narg = cast_int(L->top.p - func) - 1;
    int nfixparams = p->numparams;
    int fsize = p->maxstacksize;
    if (l_unlikely(L->stack_last.p - L->top.p <= fsize))
      return luaD_precall(L, func, nresults);
    L->ci = ci;
    ci->func.p = func;
    ci->nresults = nresults;
    ci->callstatus = 0;
    ci->top.p = func + 1 + fsize;
    ci->u.l.savedpc = p->code;
    for (; narg < nfixparams; narg++)
      setnilvalue(s2v(L->top.p++));
    return ci;
  }
  if (ttislcf(s2v(func)) || ttisCclosure(s2v(func))) {
    lua_CFunction f = ttislcf(s2v(func)) ? fvalue(s2v(func))
                                         : clCvalue(s2v(func))->f;
    int n;
    if (l_unlikely(L->stack_last.p - L->top.p <= LUA_MINSTACK ||
                   (L->hookmask & LUA_MASKCALL)))
      return luaD_precall(L, func, nresults);
    L->ci = ci;
    ci->func.p = func;
    ci->nresults = nresults;
    ci->callstatus = CIST_C;
    ci->top.p = L->top.p + LUA_MINSTACK;
    n = (*f)(L);
    api_checknelems(L, n);
    lw_poscall(L, ci, n);
    return NULL;
  }
  return luaD_precall(L, func, nresults);  /* __call */
}


/* luaD_call (OP_TFORCALL's iterator: next, ipairs' step): ldo.c's ccall
** with lw_precall. */
static l_inline void lw_call (lua_State *L, StkId func, int nresults) {
  CallInfo *ci;
  L->nCcalls++;
  if (l_unlikely(getCcalls(L) >= LUAI_MAXCCALLS)) {
    checkstackp(L, 0, func);
    luaE_checkcstack(L);
  }
  if ((ci = lw_precall(L, func, nresults)) != NULL) {
    ci->callstatus = CIST_FRESH;
    luaV_execute(L, ci);
  }
  L->nCcalls--;
}


#define luaD_precall(L, func, nresults)  lw_precall(L, func, nresults)
#define luaD_call(L, func, nresults)     lw_call(L, func, nresults)
#define luaD_poscall(L, ci, nres)        lw_poscall(L, ci, nres)
#define luaH_getshortstr                 lw_getshortstr
#define luaH_getstr                      lw_getstr
#define luaH_get                         lw_get
#undef luaV_rawequalobj
#define luaV_rawequalobj(t1, t2)         lw_rawequal(t1, t2)

#include "lvm.c"
