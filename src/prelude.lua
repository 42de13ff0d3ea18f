-- The Lua side of the sandbox, run once by `init` with the native functions
-- of src/libs.zig. Builds `io` and `os`, and returns the engine's helpers
-- (kept in the registry, out of the user's reach).
local native = ...
local setmetatable, error = setmetatable, error

-- A clear error for what the sandbox removes on purpose.
local function removed(lib, name, why)
  return function()
    error(lib .. "." .. name .. " is not available in the lua-wasm sandbox (" .. why .. ")", 2)
  end
end

local function sandboxed(lib, names, why)
  local stubs = {}
  for _, name in ipairs(names) do stubs[name] = removed(lib, name, why) end
  return { __index = stubs }
end

-- io is Lua's own (liolib over src/files.zig), opened by src/libs.zig.

-- os.setlocale: only the C locale exists, as with a libc without locales.
-- Querying, or choosing "C", "POSIX" or the default "", gives "C"; any
-- other locale fails (nil), so portable code takes its fallback path.
local locale_categories = { all = true, collate = true, ctype = true, monetary = true,
  numeric = true, time = true }
local function setlocale(locale, category)
  if category ~= nil and not locale_categories[category] then
    error("bad argument #2 to 'setlocale' (invalid option '" .. tostring(category) .. "')", 2)
  end
  if locale ~= nil and type(locale) ~= "string" and type(locale) ~= "number" then
    error("bad argument #1 to 'setlocale' (string expected, got " .. type(locale) .. ")", 2)
  end
  if locale == nil or locale == "" or locale == "C" or locale == "POSIX" then return "C" end
  return nil
end

-- os: clocks and dates (UTC: the sandbox has no time zone), and remove,
-- rename and tmpname inside the notebook's folder (src/files.zig).
os = setmetatable({
  remove = native.remove,
  rename = native.rename,
  tmpname = native.tmpname,
  time = native.time,
  clock = native.clock,
  date = native.date,
  difftime = function(a, b) return a - (b or 0) + 0.0 end,
  getenv = function() return nil end,
  setlocale = setlocale,
}, sandboxed("os", { "execute", "exit" }, "no processes"))
package.loaded.os = os

-- Seed math.random from the host's clock, to the microsecond.
do
  local t = native.wall()
  math.randomseed(math.floor(t), math.floor((t % 1) * 1e6))
end

-- Display text of a result, as the Lua REPL shows it, with tables pretty-printed.
local render
do
  local type, tostring, pairs, rawlen, rawget, getmetatable, sort, concat, format =
    type, tostring, pairs, rawlen, rawget, getmetatable, table.sort, table.concat, string.format
  local keywords = {}
  for w in ([[and break do else elseif end false for function goto if in local nil not or
    repeat return then true until while]]):gmatch("%a+") do keywords[w] = true end
  local max_depth, max_items, width = 12, 200, 72

  local kind_order = { number = 1, string = 2, boolean = 3 }
  local function key_less(a, b)
    local ka, kb = kind_order[type(a)] or 4, kind_order[type(b)] or 4
    if ka ~= kb then return ka < kb end
    if ka <= 2 then return a < b end
    return tostring(a) < tostring(b)
  end

  local function scalar(v)
    if type(v) == "string" then return (format("%q", v):gsub("\\\n", "\\n")) end
    return tostring(v)
  end

  local function plain_table(v)
    local mt = getmetatable(v)
    return not (mt and (rawget(mt, "__tostring") or rawget(mt, "__name")))
  end

  local function table_text(t, depth, open, indent)
    if open[t] then return "<cycle: " .. tostring(t) .. ">" end
    if depth > max_depth then return "{...}" end
    open[t] = true
    local parts, n = {}, rawlen(t)
    for i = 1, math.min(n, max_items) do
      local v = rawget(t, i)
      parts[#parts + 1] = (type(v) == "table" and plain_table(v))
        and table_text(v, depth + 1, open, indent .. "  ") or scalar(v)
    end
    local keys = {}
    for k in pairs(t) do
      if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
    end
    sort(keys, key_less)
    for i = 1, #keys do
      if #parts >= max_items then break end
      local k, v = keys[i], rawget(t, keys[i])
      local ks = (type(k) == "string" and k:match("^[%a_][%w_]*$") and not keywords[k]) and k
        or "[" .. ((type(k) == "table" and plain_table(k))
          and table_text(k, depth + 1, open, indent .. "  ") or scalar(k)) .. "]"
      parts[#parts + 1] = ks .. " = " .. ((type(v) == "table" and plain_table(v))
        and table_text(v, depth + 1, open, indent .. "  ") or scalar(v))
    end
    local total = n + #keys
    if total > #parts then parts[#parts + 1] = format("... (%d more)", total - #parts) end
    open[t] = nil
    if #parts == 0 then return "{}" end
    local inline = "{" .. concat(parts, ", ") .. "}"
    if #inline <= width and not inline:find("\n", 1, true) then return inline end
    local inner = indent .. "  "
    return "{\n" .. inner .. concat(parts, ",\n" .. inner) .. ",\n" .. indent .. "}"
  end

  function render(v)
    if type(v) == "table" and plain_table(v) then return table_text(v, 1, {}, "") end
    return tostring(v)
  end
end

return { render = render }
