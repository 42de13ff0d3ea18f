/* The headers src/lua_c.zig declares by hand; the unit tests alone translate
** this file (build.zig's test step) for src/lua_c_check.zig to compare. */
#include <stdio.h>
#include <time.h>
#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"
