/*
** Sandbox overrides forced into every Lua source file through LUA_USER_H
** (included at the end of lua.h). The fetched Lua sources are never edited:
** every change of behaviour lives here or in our own Zig library functions.
*/
#ifndef lua_wasm_user_h
#define lua_wasm_user_h

#include <stddef.h>
#include <time.h>

/* Output goes to the IO buffer (src/output.zig), never to stdio. */
void lw_write_stdout(const char *s, size_t len);
void lw_write_stderr_fmt(const char *fmt, const char *arg);
#define lua_writestring(s, l)       lw_write_stdout((s), (l))
#define lua_writeline()             lw_write_stdout("\n", 1)
#define lua_writestringerror(s, p)  lw_write_stderr_fmt((s), (p))

/* Real time comes from the host (src/libs/os.zig); a plain redefinition
** would collide with libc's own symbols. */
time_t lw_time(time_t *t);
clock_t lw_clock(void);
#define time(t)   lw_time(t)
#define clock()   lw_clock()

/* No locale: the decimal point is always '.'. */
#undef lua_getlocaledecpoint
#define lua_getlocaledecpoint() '.'

/* A smaller Lua stack, so deep recursion ends in "stack overflow" instead
** of exhausting the 2 MB heap. The one place this limit is set. */
#undef LUAI_MAXSTACK
#define LUAI_MAXSTACK 20000

/* Coroutine resumes go through our wrapper, which tracks the running thread
** so that an interrupt reaches the coroutine actually executing. */
#if defined(lcorolib_c)
int lw_resume(lua_State *L, lua_State *from, int narg, int *nres);
#define lua_resume(L, from, narg, nres) lw_resume((L), (from), (narg), (nres))
#endif

/* No binary chunks: ldo.c's call to the undumper raises a syntax error
** instead (src/undump_refused.c), whatever the mode passed to load. The
** prototype in lundump.h then declares our function. */
#if defined(ldo_c)
#define luaU_undump     lw_undump_refused
#endif

/* package (loadlib.c, compiled without LUA_USE_DLOPEN): require serves
** package.loaded, package.preload and user searchers; the file searchers
** find nothing (fopen below), C libraries are "not enabled", and no
** environment variable is read (getenv would import WASI). */
#if defined(loadlib_c)
#define getenv(n)           ((void)(n), (char *)0)
#undef LUA_PATH_DEFAULT
#define LUA_PATH_DEFAULT    "./?.lua;./?/init.lua"
#undef LUA_CPATH_DEFAULT
#define LUA_CPATH_DEFAULT   "./?.so"
#endif

/* Floats are formatted by src/numfmt.c, exactly on doubles: tostring's
** "%.14g" (lobject.c) and string.format's %a %e %f %g (lstrlib.c) skip the
** C library's long double printf; other formats still go to snprintf. */
#if defined(lobject_c) || defined(lstrlib_c)
int lw_numfmt_sprintf(char *buf, size_t size, const char *fmt, ...);
#undef l_sprintf
#define l_sprintf(s, sz, f, i)  lw_numfmt_sprintf((s), (sz), (f), (i))
#endif

/* lauxlib's buffer boxes get lmem.c's emergency collection too (src/box_alloc.c). */
#if defined(lauxlib_c)
lua_Alloc lw_box_allocf(lua_State *L, void **ud);
#define lua_getallocf(L, ud)  lw_box_allocf((L), (ud))
#endif

/* io (liolib.c) and loadfile (lauxlib.c) over the confined file layer of
** src/files.zig, not libc's FILE; its error numbers are the ABI's
** (docs/ABI.md, "Files"), whose messages files.zig supplies. */
#if defined(liolib_c) || defined(lauxlib_c)
#include "lw_stdio.h"
const char *lw_strerror(int en);
#define strerror(e)         lw_strerror(e)
#endif

/* debug.debug and loadlib's file searchers read no files (require's searcher
** is the notebook's, src/hostcall.zig), and no WASI import is pulled in. */
#if defined(ldblib_c) || defined(loadlib_c)
#include <stdio.h>
#undef stdin
#define stdin               ((FILE *)0)
#define fopen(f, m)         ((void)(f), (void)(m), (FILE *)0)
#define freopen(f, m, s)    ((void)(f), (void)(m), (void)(s), (FILE *)0)
#define getc(f)             ((void)(f), EOF)
#define fread(b, s, n, f)   ((void)(b), (void)(s), (void)(n), (void)(f), (size_t)0)
#define ferror(f)           ((void)(f), 1)
#define feof(f)             ((void)(f), 1)
#define fclose(f)           ((void)(f), 0)
#define fgets(b, n, f)      ((void)(b), (void)(n), (void)(f), (char *)0)
#endif

#endif
