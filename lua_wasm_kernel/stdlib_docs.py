"""What inspect shows for the standard library: signature and a short description.

Written for lua-wasm from the facts of the Lua 5.4 Reference Manual (the
signatures follow its headings; `···` is a variable number of arguments).
Where the sandbox differs from stock Lua, the text says so.
"""
from __future__ import annotations

MANUAL_URL = "https://www.lua.org/manual/5.4/manual.html"

# name -> (signature, description); the manual's anchor is "pdf-" + name.
DOCS: dict[str, tuple[str, str]] = {
    # -- basic functions
    "assert": ("assert (v [, message])",
               "Raises an error if v is false or nil (message, or \"assertion failed!\"); "
               "otherwise returns all its arguments."),
    "collectgarbage": ("collectgarbage ([opt [, arg]])",
                       "Controls the garbage collector. opt is \"collect\" (default, a full cycle), "
                       "\"stop\", \"restart\", \"count\" (memory in use, in KiB), \"step\", "
                       "\"isrunning\", \"incremental\" or \"generational\"."),
    "dofile": ("dofile ([filename])",
               "Runs the named file as a Lua chunk and returns its results. The lua-wasm "
               "sandbox has no file system, so it fails."),
    "error": ("error (message [, level])",
              "Raises an error with message as the error object. level 1 (default) adds the "
              "position of the function that called error, 2 that of its caller, 0 none."),
    "getmetatable": ("getmetatable (object)",
                     "Returns the metatable of object, or nil. If the metatable has a __metatable "
                     "field, returns that value instead."),
    "ipairs": ("ipairs (t)",
               "Returns an iterator over t[1], t[2], ... up to the first nil: "
               "for i, v in ipairs(t) do ... end."),
    "load": ("load (chunk [, chunkname [, mode [, env]]])",
             "Compiles chunk (a string, or a function returning its pieces) without running it. "
             "Returns the compiled function, or nil plus an error message. mode is \"t\", \"b\" "
             "or \"bt\"; env becomes the chunk's _ENV."),
    "loadfile": ("loadfile ([filename [, mode [, env]]])",
                 "Like load, but reads the chunk from a file. The lua-wasm sandbox has no file "
                 "system, so it fails."),
    "next": ("next (table [, index])",
             "Returns the key after index in table and its value (the first pair when index is "
             "nil), or nil after the last. The order is unspecified."),
    "pairs": ("pairs (t)",
              "Returns next, t, nil, to iterate over all key/value pairs of t; if t has a "
              "__pairs metamethod, calls it instead."),
    "pcall": ("pcall (f [, arg1, ···])",
              "Calls f with the arguments in protected mode. Returns true plus f's results, or "
              "false plus the error object."),
    "print": ("print (···)",
              "Writes its arguments to standard output, converted with tostring, separated by "
              "tabs and followed by a newline."),
    "rawequal": ("rawequal (v1, v2)", "Whether v1 equals v2, without calling the __eq metamethod."),
    "rawget": ("rawget (table, index)", "table[index] without calling the __index metamethod."),
    "rawlen": ("rawlen (v)", "The length of a table or string, without calling the __len metamethod."),
    "rawset": ("rawset (table, index, value)",
               "Sets table[index] = value without calling the __newindex metamethod; returns table."),
    "require": ("require (modname)",
                "Loads the module modname once and returns what it returned; later calls return "
                "the value cached in package.loaded[modname]."),
    "select": ("select (index, ···)",
               "With a number, returns the arguments from position index on (negative counts "
               "from the end); with \"#\", the number of extra arguments."),
    "setmetatable": ("setmetatable (table, metatable)",
                     "Sets (or with nil removes) the metatable of table and returns table. Fails "
                     "if the current metatable has a __metatable field."),
    "tonumber": ("tonumber (e [, base])",
                 "Converts e to a number, or returns nil. With base (2 to 36), e must be a string "
                 "holding an integer numeral in that base."),
    "tostring": ("tostring (v)",
                 "Converts v to a human-readable string, using the __tostring or __name field of "
                 "its metatable if present."),
    "type": ("type (v)",
             "The type of v as a string: \"nil\", \"number\", \"string\", \"boolean\", \"table\", "
             "\"function\", \"thread\" or \"userdata\"."),
    "warn": ("warn (msg1, ···)",
             "Emits a warning made of its (string) arguments concatenated. \"@on\" and \"@off\" "
             "switch warnings on and off."),
    "xpcall": ("xpcall (f, msgh [, arg1, ···])",
               "Like pcall, but on error calls msgh with the error object, while the stack is "
               "still there (to add a traceback, say), and returns false plus its result."),
    "_G": ("_G", "The global environment: a table holding every global variable."),
    "_VERSION": ("_VERSION", "The running Lua version as a string: \"Lua 5.4\"."),
    # -- string
    "string.byte": ("string.byte (s [, i [, j]])",
                    "The numeric codes of the characters s[i] through s[j] (default i = 1, j = i)."),
    "string.char": ("string.char (···)",
                    "A string whose characters have the given numeric codes (0 to 255)."),
    "string.dump": ("string.dump (function [, strip])",
                    "A binary representation of a Lua function, which load can turn back into a "
                    "function (without its upvalues' values)."),
    "string.find": ("string.find (s, pattern [, init [, plain]])",
                    "Looks for the first match of pattern in s from position init. Returns the "
                    "start and end indices plus any captures, or nil. plain = true turns off "
                    "pattern matching."),
    "string.format": ("string.format (formatstring, ···)",
                      "Formats its arguments following formatstring, like C's sprintf: %d %i %u "
                      "%c %x %X %o %e %E %f %g %G %a %A %s %q %p and %%. %q writes a value as "
                      "Lua source."),
    "string.gmatch": ("string.gmatch (s, pattern [, init])",
                      "An iterator that returns the captures (or the whole match) of each "
                      "successive match of pattern in s: for w in s:gmatch(\"%a+\") do ... end."),
    "string.gsub": ("string.gsub (s, pattern, repl [, n])",
                    "A copy of s with (the first n) matches of pattern replaced by repl: a string "
                    "(%1-%9 name captures), a table indexed by the first capture, or a function "
                    "called with the captures. Also returns the number of matches."),
    "string.len": ("string.len (s)", "The length of s in bytes."),
    "string.lower": ("string.lower (s)", "A copy of s with upper-case letters turned to lower case."),
    "string.match": ("string.match (s, pattern [, init])",
                     "The captures of the first match of pattern in s (or the whole match), or nil."),
    "string.pack": ("string.pack (fmt, v1, v2, ···)",
                    "A binary string with the values packed according to the format string fmt."),
    "string.packsize": ("string.packsize (fmt)",
                        "The size of a string produced by string.pack with format fmt "
                        "(which cannot have variable-length options)."),
    "string.rep": ("string.rep (s, n [, sep])",
                   "n copies of s concatenated, separated by sep (default empty)."),
    "string.reverse": ("string.reverse (s)", "s with its bytes in reverse order."),
    "string.sub": ("string.sub (s, i [, j])",
                   "The substring of s from i to j (default: the end); negative indices count "
                   "from the end."),
    "string.unpack": ("string.unpack (fmt, s [, pos])",
                      "The values packed in s according to fmt (see string.pack), then the "
                      "position of the first unread byte."),
    "string.upper": ("string.upper (s)", "A copy of s with lower-case letters turned to upper case."),
    # -- table
    "table.concat": ("table.concat (list [, sep [, i [, j]]])",
                     "The strings or numbers list[i] .. sep .. ... .. list[j] (default: the whole "
                     "list, no separator)."),
    "table.insert": ("table.insert (list, [pos,] value)",
                     "Inserts value at position pos (default: after the last element), shifting "
                     "later elements up."),
    "table.move": ("table.move (a1, f, e, t [, a2])",
                   "Copies a1[f..e] into a2[t..] (default a2 = a1) and returns a2. The ranges "
                   "may overlap."),
    "table.pack": ("table.pack (···)",
                   "A new table holding all the arguments at keys 1, 2, ..., with field n set to "
                   "their number."),
    "table.remove": ("table.remove (list [, pos])",
                     "Removes and returns list[pos] (default: the last element), shifting later "
                     "elements down."),
    "table.sort": ("table.sort (list [, comp])",
                   "Sorts list in place, with < or comp(a, b) (true when a must come before b). "
                   "The sort is not stable."),
    "table.unpack": ("table.unpack (list [, i [, j]])",
                     "Returns list[i], ..., list[j] (default: from 1 to #list)."),
    # -- math
    "math.abs": ("math.abs (x)", "The absolute value of x."),
    "math.acos": ("math.acos (x)", "The arc cosine of x, in radians."),
    "math.asin": ("math.asin (x)", "The arc sine of x, in radians."),
    "math.atan": ("math.atan (y [, x])",
                  "The arc tangent of y/x in radians, using both signs to find the quadrant "
                  "(default x = 1)."),
    "math.ceil": ("math.ceil (x)", "The smallest integer greater than or equal to x."),
    "math.cos": ("math.cos (x)", "The cosine of x (in radians)."),
    "math.deg": ("math.deg (x)", "The angle x converted from radians to degrees."),
    "math.exp": ("math.exp (x)", "e raised to the power x."),
    "math.floor": ("math.floor (x)", "The largest integer less than or equal to x."),
    "math.fmod": ("math.fmod (x, y)",
                  "The remainder of x divided by y, rounding the quotient towards zero."),
    "math.huge": ("math.huge", "The float infinity, greater than any other number."),
    "math.log": ("math.log (x [, base])", "The logarithm of x in base (default: e)."),
    "math.max": ("math.max (x, ···)", "The largest of its arguments, compared with <."),
    "math.maxinteger": ("math.maxinteger", "The largest integer: 2^63 - 1."),
    "math.min": ("math.min (x, ···)", "The smallest of its arguments, compared with <."),
    "math.mininteger": ("math.mininteger", "The smallest integer: -2^63."),
    "math.modf": ("math.modf (x)", "The integral part and the fractional part of x (a float)."),
    "math.pi": ("math.pi", "The value of pi."),
    "math.rad": ("math.rad (x)", "The angle x converted from degrees to radians."),
    "math.random": ("math.random ([m [, n]])",
                    "Without arguments, a float in [0, 1). With m and n, an integer in [m, n]; "
                    "with m alone, in [1, m]. math.random(0) gives an integer with all bits random."),
    "math.randomseed": ("math.randomseed ([x [, y]])",
                        "Seeds the generator with x and y, or, without arguments, with something "
                        "random. lua-wasm seeds it from the clock when the VM starts."),
    "math.sin": ("math.sin (x)", "The sine of x (in radians)."),
    "math.sqrt": ("math.sqrt (x)", "The square root of x."),
    "math.tan": ("math.tan (x)", "The tangent of x (in radians)."),
    "math.tointeger": ("math.tointeger (x)",
                       "x as an integer if it has an exact integer value, otherwise nil."),
    "math.type": ("math.type (x)", "\"integer\" or \"float\" for a number, nil for anything else."),
    "math.ult": ("math.ult (m, n)",
                 "Whether integer m is below integer n when both are read as unsigned."),
    # -- utf8
    "utf8.char": ("utf8.char (···)",
                  "The UTF-8 encoding of the given code points, concatenated."),
    "utf8.charpattern": ("utf8.charpattern",
                         "A pattern matching exactly one UTF-8 byte sequence: "
                         "\"[\\0-\\x7F\\xC2-\\xFD][\\x80-\\xBF]*\"."),
    "utf8.codes": ("utf8.codes (s [, lax])",
                   "An iterator over the characters of s giving each position and code point: "
                   "for p, c in utf8.codes(s) do ... end. Raises an error on invalid bytes."),
    "utf8.codepoint": ("utf8.codepoint (s [, i [, j [, lax]]])",
                       "The code points of the characters starting between byte positions i and "
                       "j (default i = 1, j = i)."),
    "utf8.len": ("utf8.len (s [, i [, j [, lax]]])",
                 "The number of UTF-8 characters starting between positions i and j, or nil plus "
                 "the position of the first invalid byte."),
    "utf8.offset": ("utf8.offset (s, n [, i])",
                    "The byte position where the n-th character (counting from position i) "
                    "starts; negative n counts backwards."),
    # -- coroutine
    "coroutine.close": ("coroutine.close (co)",
                        "Closes a suspended or dead coroutine, closing its pending to-be-closed "
                        "variables. Returns true, or false plus an error object."),
    "coroutine.create": ("coroutine.create (f)",
                         "A new coroutine (a thread) with body f, not yet started."),
    "coroutine.isyieldable": ("coroutine.isyieldable ([co])",
                              "Whether co (default: the running coroutine) can yield."),
    "coroutine.resume": ("coroutine.resume (co [, val1, ···])",
                         "Starts or continues co, passing the values. Returns true plus the values "
                         "given to yield (or returned by the body), or false plus the error."),
    "coroutine.running": ("coroutine.running ()",
                          "The running coroutine and whether it is the main one."),
    "coroutine.status": ("coroutine.status (co)",
                         "The status of co: \"running\", \"suspended\", \"normal\" or \"dead\"."),
    "coroutine.wrap": ("coroutine.wrap (f)",
                       "A function that resumes a new coroutine with body f on each call, "
                       "returning what it yields and raising its errors."),
    "coroutine.yield": ("coroutine.yield (···)",
                        "Suspends the running coroutine; its values become the results of the "
                        "resume, and the next resume's arguments become yield's results."),
    # -- os (the sandbox keeps clocks and dates)
    "os.clock": ("os.clock ()", "The CPU time used by the kernel process, in seconds."),
    "os.date": ("os.date ([format [, time]])",
                "The date and time (default: now) formatted with strftime-style format, or as a "
                "table with \"*t\". In lua-wasm dates are always UTC: the sandbox has no time zone."),
    "os.difftime": ("os.difftime (t2, t1)", "The number of seconds from time t1 to time t2."),
    "os.getenv": ("os.getenv (varname)",
                  "The value of an environment variable. The lua-wasm sandbox has no "
                  "environment: always nil."),
    "os.time": ("os.time ([table])",
                "The current time as a number, or the time described by a table with fields "
                "year, month, day (and hour, min, sec, isdst)."),
    "os.execute": ("os.execute ([command])", "Not available in the lua-wasm sandbox (no processes)."),
    "os.exit": ("os.exit ([code [, close]])", "Not available in the lua-wasm sandbox (no processes)."),
    "os.remove": ("os.remove (filename)",
                  "Deletes a file (or empty folder) of the notebook's folder; needs file_access "
                  "read-write. Returns true, or nil, a message and an error number."),
    "os.rename": ("os.rename (oldname, newname)",
                  "Renames a file inside the notebook's folder; needs file_access read-write."),
    "os.tmpname": ("os.tmpname ()",
                   "Creates an empty file with a new name in the notebook's folder and returns "
                   "the name; needs file_access read-write."),
    "os.setlocale": ("os.setlocale (locale [, category])", "Not available in the lua-wasm sandbox."),
    # -- io (Lua's own, over the notebook's folder)
    "io.write": ("io.write (···)",
                 "Writes its arguments (strings or numbers) to standard output, without "
                 "separators or newline; returns the file."),
    "io.read": ("io.read (···)",
                "Reads from standard input according to the formats: \"l\" (a line, the default), "
                "\"L\" (a line with its newline), \"n\" (a number), \"a\" (everything) or a count "
                "of bytes."),
    "io.stdout": ("io.stdout", "The standard output file: its text streams to the notebook."),
    "io.stderr": ("io.stderr", "The standard error file: its text streams to the notebook as stderr."),
    "io.open": ("io.open (filename [, mode])",
                "Opens a file of the notebook's folder (a relative name, nothing hidden) in the "
                "mode \"r\", \"w\", \"a\", with \"+\" and \"b\"; returns the file, or nil, a message "
                "and an error number. The kernel's file_access allows reading (the default), "
                "reading and writing, or nothing."),
    "io.popen": ("io.popen (prog [, mode])", "Not available in the lua-wasm sandbox (no processes)."),
    "io.lines": ("io.lines ([filename, ···])",
                 "An iterator over the lines of the named file (closed at its end), or of the "
                 "default input, read with the given formats (default \"l\")."),
    "io.input": ("io.input ([file])",
                 "Sets the default input file (by name or file); returns it. At first io.stdin."),
    "io.stdin": ("io.stdin", "The standard input file: reading from it asks the frontend for input."),
    "io.output": ("io.output ([file])",
                  "Sets the default output file (by name, opened for writing, or file); returns it."),
    "io.close": ("io.close ([file])", "Closes the file, or the default output file."),
    "io.flush": ("io.flush ()", "Saves what was written to the default output file."),
    "io.tmpfile": ("io.tmpfile ()",
                   "A new temporary file, open for reading and writing and gone when closed; "
                   "needs file_access read-write."),
    "io.type": ("io.type (obj)", "\"file\", \"closed file\", or fail when obj is not a file."),
    "file:read": ("file:read (···)",
                  "Reads from the file according to the formats, as io.read does for standard input."),
    "file:lines": ("file:lines (···)",
                   "An iterator that reads from the file with the given formats (default \"l\") "
                   "on each call."),
    "file:write": ("file:write (···)",
                   "Writes its arguments (strings or numbers) to the file; returns the file."),
    "file:flush": ("file:flush ()", "Saves written data to the file."),
    "file:setvbuf": ("file:setvbuf (mode [, size])",
                     "Sets the buffering of writes: \"no\", \"full\" or \"line\"."),
    "file:close": ("file:close ()", "Closes the file; standard files cannot be closed (nil and a message)."),
    # -- debug
    "debug.debug": ("debug.debug ()",
                    "Runs each line read from the C standard input as Lua code until a line "
                    "\"cont\"; a notebook has no such input, so it returns at once."),
    "debug.traceback": ("debug.traceback ([thread,] [message [, level]])",
                        "message followed by a traceback of the call stack, starting at level "
                        "(default 1, the function calling traceback)."),
    "debug.getinfo": ("debug.getinfo ([thread,] f [, what])",
                      "A table describing function f (or the function at stack level f): fields "
                      "source, short_src, linedefined, currentline, name, nparams, ... "
                      "selected by the letters of what."),
    "debug.getlocal": ("debug.getlocal ([thread,] f, local)",
                       "The name and value of local variable number local of the function at "
                       "level f; for a function value, the name of its parameter."),
    "debug.setlocal": ("debug.setlocal ([thread,] level, local, value)",
                       "Sets local variable number local of the function at level; returns its name."),
    "debug.getmetatable": ("debug.getmetatable (value)",
                           "The metatable of value, ignoring any __metatable field."),
    "debug.setmetatable": ("debug.setmetatable (value, table)",
                           "Sets the metatable of value (of any type) to table; returns value."),
    "debug.getregistry": ("debug.getregistry ()", "The registry table, shared by all C code."),
    "debug.getupvalue": ("debug.getupvalue (f, up)", "The name and value of upvalue number up of f."),
    "debug.setupvalue": ("debug.setupvalue (f, up, value)",
                         "Sets upvalue number up of f to value; returns its name."),
    "debug.upvalueid": ("debug.upvalueid (f, n)", "A unique identifier of upvalue n of f."),
    "debug.upvaluejoin": ("debug.upvaluejoin (f1, n1, f2, n2)",
                          "Makes upvalue n1 of closure f1 refer to upvalue n2 of closure f2."),
    "debug.sethook": ("debug.sethook ([thread,] hook, mask [, count])",
                      "Sets hook to be called on calls (\"c\"), returns (\"r\"), new lines (\"l\") "
                      "or every count instructions; without arguments, removes it."),
    "debug.gethook": ("debug.gethook ([thread])", "The current hook function, mask and count."),
    "debug.getuservalue": ("debug.getuservalue (u, n)", "The n-th user value of userdata u."),
    "debug.setuservalue": ("debug.setuservalue (udata, value, n)",
                           "Sets the n-th user value of udata to value."),
    "debug.setcstacklimit": ("debug.setcstacklimit (limit)",
                             "Deprecated in Lua 5.4: does nothing and returns 0."),
}

def lookup(name: str) -> tuple[str, str] | None:
    """The signature and description of a standard name (`string.format`, `file:write`)."""
    return DOCS.get(name)


def manual_link(name: str) -> str:
    """The manual's anchor for a standard name."""
    return f"{MANUAL_URL}#pdf-{name}"
