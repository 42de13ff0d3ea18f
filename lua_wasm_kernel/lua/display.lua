-- The `display` module and `help`: rich output for the frontend, through the
-- host functions "display", "clear_output" and "page"
-- (lua_wasm_kernel/display.py). The engine loads it on first use of one of
-- its stubs (src/hostcall.zig: the global `display` table, `display(...)`,
-- `help`), which call the functions of the table this chunk returns.
-- Errors go through helpers.raise, which points at the user's call.
local host_call, helpers = ...
local type, tostring, select, setmetatable, pairs, ipairs, rawget, rawlen, format, concat, sort =
  type, tostring, select, setmetatable, pairs, ipairs, rawget, rawlen, string.format,
  table.concat, table.sort
local render, raise = helpers.render, helpers.raise

local function host(where, name, ...)
  local ok, reply = host_call(name, ...)
  if not ok then raise(where .. ": " .. reply) end
  return reply
end

-- Strings, or numbers converted as Lua's string functions do.
local function text_arg(where, i, v)
  local t = type(v)
  if t == "string" then return v end
  if t == "number" then return tostring(v) end
  raise(format("bad argument #%d to '%s' (string expected, got %s)", i, where, t == "nil" and "no value" or t))
end

local function table_arg(where, i, v, optional)
  if type(v) == "table" or (optional and v == nil) then return v end
  raise(format("bad argument #%d to '%s' (table expected, got %s)", i, where, type(v)))
end

-- The kind last shown under each display id, for update(id, data).
local kind_of_id = {}

local handle_methods = {}
local handle_mt = { __index = handle_methods, __name = "display handle" }
handle_mt.__tostring = function(h) return "display handle " .. h.id end

local function show(where, kind, data, opts)
  local id = host(where, "display", kind, data, opts)
  if id == nil then return nil end
  kind_of_id[id] = kind
  return setmetatable({ id = id, kind = kind }, handle_mt)
end

local text_kinds = { html = true, markdown = true, svg = true, latex = true, text = true, png = true }
local kinds = { html = true, markdown = true, svg = true, latex = true, text = true, png = true,
  json = true, data = true }

local function check_data(where, kind, data)
  if text_kinds[kind] then return text_arg(where, 1, data) end
  if kind == "data" then return table_arg(where, 1, data) end
  return data
end

local display = {}

-- display.html(s [, opts]) and its siblings; opts: {id = "name" | true,
-- update = true, metadata = {...}}. With an id, returns a handle.
for kind in pairs(kinds) do
  local where = "display." .. kind
  display[kind] = function(data, opts)
    data = check_data(where, kind, data)
    table_arg(where, 2, opts, true)
    local h = show(where, kind, data, opts)
    if h then return h end
  end
end

local function update(where, id, data, kind)
  id = text_arg(where, 1, id)
  kind = kind or kind_of_id[id]
  if kind == nil then
    raise(format("%s: unknown display id '%s' (give its kind: display.update(id, data, 'html'))", where, id))
  end
  if not kinds[kind] then raise(format("%s: unknown kind '%s'", where, tostring(kind))) end
  show(where, kind, check_data(where, kind, data), { id = id, update = true })
end

-- display.update(id, data [, kind]): replaces what was shown under `id`.
function display.update(id, data, kind)
  update("display.update", id, data, kind)
end

function handle_methods.update(h, data)
  update("update", h.id, data, h.kind)
end

-- display.clear([wait]): clears the cell's output (when new output arrives,
-- if `wait`).
function display.clear(wait)
  host("display.clear", "clear_output", wait and true or false)
end

-- display.page(text): shows text in the frontend's pager.
function display.page(text)
  host("display.page", "page", text_arg("display.page", 1, text))
end

-- display(v [, opts]): any value as plain text, as a cell result shows it.
function display.call(v, opts)
  table_arg("display", 2, opts, true)
  local h = show("display", "text", render(v), opts)
  if h then return h end
end

-- help([x]) -------------------------------------------------------------

local manual = "https://www.lua.org/manual/5.4/manual.html#pdf-"
local standard_libs = { "coroutine", "debug", "io", "math", "os", "package", "string", "table", "utf8" }

-- "string.format" for a function of a standard library, "print" for a base one.
local function standard_name(v)
  for _, lib in ipairs(standard_libs) do
    local t = package.loaded[lib]
    if type(t) == "table" then
      for k, f in pairs(t) do
        if f == v and type(k) == "string" then return lib .. "." .. k end
      end
    end
  end
  for k, f in pairs(_G) do
    if f == v and type(k) == "string" and type(rawget(package.loaded, k)) ~= "table"
      and k ~= "help" and k ~= "display" then
      return k
    end
  end
end

local function shorten(s, limit)
  if #s <= limit then return s end
  return s:sub(1, limit) .. format("... (%d more bytes)", #s - limit)
end

local function describe_function(f, name)
  local info = debug.getinfo(f, "Su")
  local std = standard_name(f)
  name = name or std
  local lines = {}
  if info.what == "C" then
    lines[1] = (name or tostring(f)) .. ": built-in function"
  else
    local params = {}
    for i = 1, info.nparams do params[i] = debug.getlocal(f, i) end
    if info.isvararg then params[#params + 1] = "..." end
    lines[1] = format("function %s(%s)", name or "", concat(params, ", "))
    lines[2] = format("defined at %s:%d-%d", info.short_src, info.linedefined, info.lastlinedefined)
  end
  if std then lines[#lines + 1] = "Lua manual: " .. manual .. std end
  return concat(lines, "\n")
end

local function describe_table(t, name)
  local n, fields = rawlen(t), {}
  for k, v in pairs(t) do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then
      fields[#fields + 1] = format("  %s: %s", type(k) == "string" and k or "[" .. tostring(k) .. "]", type(v))
    end
  end
  sort(fields)
  local lines = { format("%s%s: %d array items, %d other fields", name and name .. " = " or "", tostring(t), n, #fields) }
  if #fields > 0 then
    lines[#lines + 1] = "fields:"
    for i = 1, math.min(#fields, 100) do lines[#lines + 1] = fields[i] end
    if #fields > 100 then lines[#lines + 1] = format("  ... (%d more)", #fields - 100) end
  end
  lines[#lines + 1] = "value: " .. shorten(render(t), 4000)
  return concat(lines, "\n")
end

-- A dotted name ("string.format") looked up from _G, or nil.
local function lookup(name)
  if not name:match("^[%a_][%w_]*[%.%w_]*$") then return nil end
  local v = _G
  for part in name:gmatch("[^%.]+") do
    if type(v) ~= "table" then return nil end
    v = v[part]
  end
  return v
end

local function describe(x)
  local name
  if type(x) == "string" then
    local v = lookup(x)
    if v ~= nil then name, x = x, v end
  end
  local t = type(x)
  if t == "function" then return describe_function(x, name) end
  if t == "table" then return describe_table(x, name) end
  if t == "string" then return format("string of %d bytes: %s", #x, shorten(render(x), 4000)) end
  return format("%s: %s", t, shorten(render(x), 4000))
end

local intro = [[
lua-wasm: Lua 5.4 in WebAssembly.

  help(x)              describe a value, or a name such as "string.format"
  display(x)           show a value; display.html(s), .markdown, .json, .svg,
                       .png, .latex, .text for rich output, display.clear()
  io.read(...)         read input from the frontend ("l", "L", "n", "a", count)
  require "name"       load name.lua or name/init.lua from the notebook's folder

Lua 5.4 manual: https://www.lua.org/manual/5.4/]]

-- help([x]): a description of x (or of the kernel) in the pager.
function display.help(...)
  local text = select("#", ...) == 0 and intro or describe((...))
  host("help", "page", text)
end

return display
