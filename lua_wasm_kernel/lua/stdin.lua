-- io.read, io.lines, io.input and io.stdin's methods: standard input from
-- the frontend, one line per input request, through the host functions
-- "input" and "input_epoch" (lua_wasm_kernel/stdin.py). The engine loads it
-- on first use of one of their stubs (src/hostcall.zig), which call the
-- functions of the table this chunk returns. Errors go through
-- helpers.raise, which points at the user's call.
local host_call, helpers = ...
local type, tonumber, select, math_type, pack, unpack, concat =
  type, tonumber, select, math.type, table.pack, table.unpack, table.concat
local raise, stdin = helpers.raise, helpers.stdin

-- Input received but not read yet, as on a terminal: whole lines, each
-- ending in "\n". The host's input epoch changes with every cell, and
-- what one cell left unread is dropped when the next one reads.
local buffer = ""
local buffer_epoch = nil

-- One line from the frontend (without its newline), or nil at end of input.
local function request(where)
  local ok, line = host_call("input", "", false)
  if not ok then raise(where .. ": " .. line) end
  return line
end

local function epoch()
  local ok, e = host_call("input_epoch")
  return ok and e or nil
end

local function fill(where)
  local line = request(where)
  if line == nil then return false end
  buffer = buffer .. line .. "\n"
  buffer_epoch = epoch()
  return true
end

-- Drops input left over from an earlier cell.
local function fresh()
  if buffer ~= "" and epoch() ~= buffer_epoch then buffer = "" end
end

local function read_line(where, keep_newline)
  local nl = buffer:find("\n", 1, true)
  while not nl and fill(where) do nl = buffer:find("\n", 1, true) end
  if not nl then -- end of input
    if buffer == "" then return nil end
    local line = buffer
    buffer = ""
    return line
  end
  local line = buffer:sub(1, keep_newline and nl or nl - 1)
  buffer = buffer:sub(nl + 1)
  return line
end

-- "a": a notebook has no end of input, so an empty line ends it (as does
-- an end-of-file reply); the empty line is not part of the result.
local function read_all(where)
  local parts = { buffer }
  buffer = ""
  while true do
    local line = request(where)
    if line == nil or line == "" then break end
    parts[#parts + 1] = line .. "\n"
  end
  return concat(parts)
end

-- "n": the longest numeral prefix, as liolib's l_getn reads it.
local function read_number(where)
  while true do
    local start = buffer:find("%S")
    if start then
      buffer = buffer:sub(start)
      break
    end
    buffer = ""
    if not fill(where) then return nil end
  end
  local at = 1
  local function accept(class)
    if buffer:sub(at, at):match(class) then
      at = at + 1
      return true
    end
    return false
  end
  local digits, exponent, count = "%d", "[eE]", 0
  accept("[%+%-]")
  if accept("0") then
    if accept("[xX]") then digits, exponent = "%x", "[pP]" else count = 1 end
  end
  while accept(digits) do count = count + 1 end
  if accept("%.") then
    while accept(digits) do count = count + 1 end
  end
  if count > 0 and accept(exponent) then
    accept("[%+%-]")
    while accept("%d") do end
  end
  local text = buffer:sub(1, at - 1)
  buffer = buffer:sub(at)
  return tonumber(text)
end

local function read_count(where, n)
  while #buffer < n and fill(where) do end
  if n == 0 then
    if buffer == "" and not fill(where) then return nil end
    return ""
  end
  if buffer == "" then return nil end
  local chunk = buffer:sub(1, n)
  buffer = buffer:sub(n + 1)
  return chunk
end

local function read_one(where, i, f)
  if math_type(f) == "integer" then return read_count(where, f < 0 and 0 or f) end
  if type(f) == "number" then raise(("bad argument #%d to 'read' (number has no integer representation)"):format(i)) end
  if type(f) ~= "string" then raise(("bad argument #%d to 'read' (invalid format)"):format(i)) end
  local c = f:sub(1, 1) == "*" and f:sub(2, 2) or f:sub(1, 1)
  if c == "l" then return read_line(where, false) end
  if c == "L" then return read_line(where, true) end
  if c == "n" then return read_number(where) end
  if c == "a" then return read_all(where) end
  raise(("bad argument #%d to 'read' (invalid format)"):format(i))
end

-- Reads each format in turn, stopping at the first that fails (nil).
local function read(where, n, ...)
  fresh()
  if n == 0 then return read_line(where, false) end
  local results = {}
  for i = 1, n do
    local v = read_one(where, i, (select(i, ...)))
    results[i] = v
    if v == nil then return unpack(results, 1, i) end
  end
  return unpack(results, 1, n)
end

local function lines(where, ...)
  local n, formats = select("#", ...), pack(...)
  return function() return read(where, n, unpack(formats, 1, n)) end
end

local function stdin_read(_, ...) return read("io.read", select("#", ...), ...) end
local function stdin_lines(_, ...) return lines("io.lines", ...) end
local function stdin_write() return nil, "Bad file descriptor", 9 end

local function io_read(...) return read("io.read", select("#", ...), ...) end
local function io_lines(filename, ...)
  if filename ~= nil then raise("io.lines is not available in the lua-wasm sandbox (no file system)") end
  return lines("io.lines", ...)
end
local function io_input(file)
  if file == nil or file == stdin then return stdin end
  raise("io.input is not available in the lua-wasm sandbox (no file system)")
end

return {
  read = io_read, lines = io_lines, input = io_input,
  stdin_read = stdin_read, stdin_lines = stdin_lines, stdin_write = stdin_write,
}
