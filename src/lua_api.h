/* What translate-c turns into the Zig module "c" (see src/lua.zig). */
#include <stdio.h>
#include <time.h>
#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"
