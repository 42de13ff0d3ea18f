/*
** Lua's C API, the auxiliary library and the libraries that call them most,
** compiled as one unit so that clang inlines the small API functions
** (lua_gettop, lua_geti, luaL_checkinteger, luaL_addlstring, ...) into the
** library functions: wasmtime makes every wasm call a real call. The fetched
** files are included unchanged; upstream keeps their static names apart
** (onelua.c compiles them all together).
** lua_user.h is read once here, at the first include, so every file below
** with a block there has its <name>_c defined first, and those blocks apply
** to the whole unit (tests/test_build_command.py checks both).
** docs/BENCHMARKS.md (issue 9, "Fourth pass") has the numbers.
*/
#if defined(lua_wasm_user_h)
#error "lua_user.h must be first read by the includes below"
#endif

#define lauxlib_c
#define lstrlib_c

#include "lauxlib.c"
/* lauxlib's boxes allocate through src/box_alloc.c (lua_user.h); lapi.c
** defines the real lua_getallocf. */
#undef lua_getallocf
#include "lstrlib.c"
#include "lapi.c"
#include "lbaselib.c"
#include "lmathlib.c"
#include "ltablib.c"
