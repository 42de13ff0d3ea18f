-- require from the notebook's folder: the searcher that finds name.lua or
-- name/init.lua through the host functions "search_module" and
-- "read_module" (lua_wasm_kernel/modules.py), and package.searchpath. The
-- host reads files only inside the notebook's folder (relative paths, no
-- escape by ".." or symlinks); chunks load as text only. The engine
-- (src/hostcall.zig) puts stubs in package.searchers[2] (in place of the
-- file and C searchers) and package.searchpath, and loads this chunk on
-- their first call.
local host_call, helpers = ...
local type, load, format, concat, tostring = type, load, string.format, table.concat, tostring
local raise = helpers.raise

-- The first readable file of `path`'s templates, or nil and Lua's
-- "no file '...'" message.
local function search(name, path, sep, rep)
  local ok, found = host_call("search_module", name, path, sep or ".", rep or "/")
  if not ok then return nil, found end
  if type(found) == "string" then return found end
  return nil, concat(found, "\n\t")
end

local function searchpath(name, path, sep, rep)
  for i, v in ipairs({ name, path }) do
    if type(v) ~= "string" then
      raise(format("bad argument #%d to 'searchpath' (string expected, got %s)", i, type(v)))
    end
  end
  return search(name, path, sep, rep)
end

-- As loadlib.c's searcher_Lua, with the host reading the file.
local function searcher(name)
  local path = package.path
  if type(path) ~= "string" then error("'package.path' must be a string", 0) end
  local filename, message = search(name, path)
  if not filename then return message end
  local ok, source = host_call("read_module", filename)
  local chunk
  if ok then chunk, source = load(source, "@" .. filename, "t") end
  if not chunk then
    error(format("error loading module '%s' from file '%s':\n\t%s", name, filename, tostring(source)), 0)
  end
  return chunk, filename
end

return { searcher = searcher, searchpath = searchpath }
