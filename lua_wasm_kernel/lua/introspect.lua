-- The kernel's Lua helpers for completion, inspection (and help) and is_complete.
-- The host runs this chunk in every new Lua state, before any cell
-- (LuaVM.init_scripts), and calls the table it leaves in the registry under
-- "lua_wasm.introspect", out of the user's globals.
--
-- Lookups run no user code: fields are read raw, following only __index
-- *tables*, so a completion never calls an __index or __pairs function.
-- Only the value text of M.info (render, tostring) may call __tostring,
-- __name or __pairs.
local registry = debug.getregistry()
local globals = registry[2] -- LUA_RIDX_GLOBALS: the real globals, even if _G is reassigned
local next, type, rawget, tostring, load, pcall, ipairs = next, type, rawget, tostring, load, pcall, ipairs
local getmetatable, getinfo, getlocal = debug.getmetatable, debug.getinfo, debug.getlocal
local concat, sort = table.concat, table.sort
local find, sub, gmatch = string.find, string.sub, string.gmatch

local max_matches = 2000 -- enough for any frontend's menu
local max_index_depth = 16 -- __index chains longer than this are cut
local max_repr_bytes = 4000 -- the value text an inspect shows

local keywords = {}
for w in gmatch([[and break do else elseif end false for function goto if in local nil not or
  repeat return then true until while]], "%a+") do keywords[w] = true end

-- The sandbox's stubs for what it removed (io.open, os.execute, ...): not offered.
local removed = {}
for _, lib in ipairs({ "io", "os" }) do
  local mt = getmetatable(rawget(globals, lib))
  local stubs = type(mt) == "table" and rawget(mt, "__index")
  if type(stubs) == "table" then
    for _, v in next, stubs do removed[v] = true end
  end
end

-- The tables a lookup in `v` visits: v itself (if a table), then each __index table.
local function lookup_chain(v)
  local chain = {}
  for _ = 1, max_index_depth do
    if type(v) == "table" then chain[#chain + 1] = v end
    local mt = getmetatable(v)
    local index = type(mt) == "table" and rawget(mt, "__index")
    if type(index) ~= "table" then break end
    v = index
  end
  return chain
end

-- Standard functions by identity, so `local f = string.format` still finds its docs.
local std_names = setmetatable({}, { __mode = "k" })
for _, lib in ipairs({ "string", "table", "math", "utf8", "coroutine", "os", "io", "debug" }) do
  local t = rawget(globals, lib)
  if type(t) == "table" then
    for k, v in next, t do
      if type(v) == "function" and type(k) == "string" then std_names[v] = lib .. "." .. k end
    end
  end
end
for k, v in next, globals do
  if type(v) == "function" and type(k) == "string" then std_names[v] = k end
end
do -- methods of the standard files, the manual's file:write
  local io = rawget(globals, "io")
  for _, name in ipairs({ "stdout", "stdin" }) do
    local file = type(io) == "table" and rawget(io, name)
    for _, t in ipairs(file and lookup_chain(file) or {}) do
      for k, v in next, t do
        if type(v) == "function" and type(k) == "string" then std_names[v] = "file:" .. k end
      end
    end
  end
end

-- v[k] without calling metamethods.
local function field(v, k)
  for _, t in ipairs(lookup_chain(v)) do
    local x = rawget(t, k)
    if x ~= nil then return x end
  end
  return nil
end

-- The value of a dotted path ("a.b.c", ":" allowed as the last separator), or nil.
local function resolve(path)
  local v = globals
  for name in gmatch(path, "[^.:]+") do
    v = field(v, name)
    if v == nil then return nil end
  end
  return v
end

local function callable(v)
  if type(v) == "function" then return true end
  local mt = getmetatable(v)
  return type(mt) == "table" and rawget(mt, "__call") ~= nil
end

local M = {}

-- Completions of `prefix` after `path` and `sep` ("" for globals, "." for
-- fields, ":" for methods): "name\ttype" lines.
function M.complete(path, sep, prefix)
  local base = path == "" and globals or resolve(path)
  if base == nil then return "" end
  local seen, lines = {}, {}
  for _, t in ipairs(lookup_chain(base)) do
    for k, v in next, t do
      if type(k) == "string" and not seen[k] and sub(k, 1, #prefix) == prefix
        and find(k, "^[%a_][%w_]*$") and not keywords[k]
        and not removed[v] and (sep ~= ":" or callable(v)) then
        seen[k] = true
        lines[#lines + 1] = k .. "\t" .. type(v)
        if #lines >= max_matches then return concat(lines, "\n") end
      end
    end
  end
  return concat(lines, "\n")
end

-- What is known about a value: a flat table (params as a list), or nil for nil.
-- Inspection (a path at the cursor) and help(x) (a value) both describe this.
function M.info(v)
  if v == nil then return nil end
  local info = { type = type(v), std = std_names[v] }
  if type(v) == "function" then
    local d = getinfo(v, "Su")
    info.what, info.source, info.short_src = d.what, d.source, d.short_src
    info.linedefined, info.lastlinedefined = d.linedefined, d.lastlinedefined
    info.nparams, info.isvararg = d.nparams, d.isvararg
    local params = {}
    for i = 1, d.nparams do params[i] = getlocal(v, i) end
    info.params = concat(params, ", ")
  else
    local prelude = registry["lua_wasm.prelude"]
    local ok, text = pcall(prelude and prelude.render or tostring, v)
    if not ok then ok, text = pcall(tostring, v) end
    if ok and type(text) == "string" then
      info.repr = #text > max_repr_bytes and sub(text, 1, max_repr_bytes) .. " ..." or text
    end
  end
  return info
end

-- What is known about the value at `path` (M.info), or nil.
function M.inspect(path)
  return M.info(resolve(path))
end

-- The value at a dotted path, read without metamethods, or nil.
M.resolve = resolve

-- A name for v: its standard name, else a global holding it, else nil.
function M.name_of(v)
  if std_names[v] then return std_names[v] end
  for k, x in next, globals do
    if x == v and type(k) == "string" then return k end
  end
  return nil
end

-- "complete", "incomplete" or "invalid", as lua.c decides whether to read
-- another line: a cell that fails only at <eof> may still be finished.
function M.is_complete(code)
  if load("return " .. code, "=cell", "t") then return "complete" end
  local f, err = load(code, "=cell", "t")
  if f then return "complete" end
  if sub(err, -5) == "<eof>" then return "incomplete" end
  return "invalid"
end

registry["lua_wasm.introspect"] = M
-- help(x) (lua/display.lua, loaded later with the prelude's helpers) uses it too.
local prelude = registry["lua_wasm.prelude"]
if type(prelude) == "table" then prelude.introspect = M end
