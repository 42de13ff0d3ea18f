/*
** Lua's C API and the libraries that call it most, compiled as one unit so
** that clang inlines the small API functions (lua_gettop, lua_geti,
** lua_isinteger, ...) into the library functions: wasmtime makes every wasm
** call a real call. The fetched files are included unchanged; upstream keeps
** their static names apart (onelua.c compiles them all together).
** lua_user.h is read once, at the first include, with only that file's
** lstrlib_c defined: its blocks for the other files here would not apply,
** so none may have one (tests/test_build_command.py checks).
** docs/BENCHMARKS.md (issue 9, "Fourth pass") has the numbers.
*/
#if defined(lua_wasm_user_h)
#error "lua_user.h must be first read by lstrlib.c below"
#endif

#include "lstrlib.c"
#include "lapi.c"
#include "lbaselib.c"
#include "lmathlib.c"
#include "ltablib.c"
