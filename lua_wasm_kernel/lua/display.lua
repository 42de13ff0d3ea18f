-- The `display` module and `help`: rich output for the frontend, through the
-- host functions "display", "clear_output", "page" and "describe"
-- (lua_wasm_kernel/display.py). The engine loads it on first use of one of
-- its stubs (src/hostcall.zig: the global `display` table, `display(...)`,
-- `help`), which call the functions of the table this chunk returns.
-- Errors go through helpers.raise, which points at the user's call.
local host_call, helpers = ...
local type, tostring, select, setmetatable, pairs, format, match =
  type, tostring, select, setmetatable, pairs, string.format, string.match
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
-- help(x) shows what Shift-Tab (inspect_request) shows for x: the host
-- function "describe" formats the same facts (introspect.lua's M.info) with
-- the same code (lua_wasm_kernel/inspect.py, describe).

local name_pattern = "^[%a_][%w_]*[.:%w_]*$"

-- (name or nil, facts or nil) of help's argument.
local function facts(introspect, x)
  if type(x) == "string" and match(x, name_pattern) and not match(x, "[.:][.:]") then
    return x, introspect.inspect(x)  -- a name: looked up without metamethods
  end
  return introspect.name_of(x), introspect.info(x)
end

local function describe(x)
  local introspect = helpers.introspect
  if introspect == nil then raise("help: the kernel's introspection helpers are not loaded") end
  local name, info = facts(introspect, x)
  return host("help", "describe", name, info)
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
