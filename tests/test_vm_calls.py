"""The interpreter loop's in-line calls (src/lvm_calls.c) against native Lua 5.4.

lvm_calls.c takes the common case of a call, a C function's return, a generic
`for`'s iterator call, a string-keyed table read and an equality with a
constant in line, and hands every other case to Lua's own function. Each chunk here drives one of those
boundaries (missing and extra arguments, 0/1/many results, a stack or
CallInfo list that must grow, call and return hooks, `__call`, yields and
errors inside calls, C-stack overflow through nested iterators, keys off
their main position or of other types, constants of every type) and must print exactly what native Lua (lupa's lua54)
prints. The official test suite (test_lua_testsuite.py) covers the rest.
"""
from __future__ import annotations

import pytest

from lua_wasm_kernel.vm import LuaVM

CHUNKS = {
    "missing and extra arguments": """
        local function f(a, b, c) return tostring(a) .. tostring(b) .. tostring(c) end
        local function v(...) return select('#', ...), ... end
        return f(1) .. f(1, 2, 3, 4) .. table.concat({v(1, nil, 3, nil)}, ",", 1, 1)
    """,
    "C results adjusted to 0, 1 and many": """
        local a = string.byte("")
        local b, c = string.byte("ab", 1, 2)
        local d = (string.byte("xyz", 1, 3))
        string.byte("q")
        local t = {string.byte("hey", 1, -1)}
        local e, f, g = math.abs(-3)
        return tostring(a) .. b .. c .. d .. #t .. e .. tostring(f) .. tostring(g)
    """,
    "a Lua function's results adjusted": """
        local function none() end
        local function two() return 1, 2 end
        local x = none()
        local y, z, w = two()
        return tostring(x) .. y .. z .. tostring(w) .. select('#', two(), two())
    """,
    "the stack and the CallInfo list grow mid-call": """
        local function d(n)
          local a, b, c, e, f, g, h, i = 1, 2, 3, 4, 5, 6, 7, 8
          if n == 0 then return a + i end
          return d(n - 1) + 1 + math.abs(-1) - 1
        end
        local out = {}
        for depth = 1, 1500, 499 do out[#out + 1] = d(depth) end
        return table.concat(out, ",")
    """,
    "call and return hooks see C and Lua calls": """
        local calls, rets = 0, 0
        local function f(x) return x end
        debug.sethook(function(ev) if ev == "call" then calls = calls + 1 else rets = rets + 1 end end, "cr")
        for i = 1, 10 do f(i) math.abs(i) end
        debug.sethook()
        return calls .. "/" .. rets
    """,
    "a count hook does not disturb calls": """
        local n = 0
        debug.sethook(function() n = n + 1 end, "", 7)
        local s = 0
        for i = 1, 2000 do s = s + math.abs(-i) + select(2, pcall(function(x) return x end, i)) end
        debug.sethook()
        return s .. ":" .. tostring(n > 100)
    """,
    "__call": """
        local t = setmetatable({}, {__call = function(self, x, y) return x * 2, y end})
        local a, b = t(21, "b")
        local ok, err = pcall(function() local v = {} ; return v() end)
        return a .. b .. tostring(ok) .. err:gsub("^.-:%d+: ", "")
    """,
    "generic for over next, ipairs, a C closure and a Lua iterator": """
        local t = {10, 20, 30, x = 1, y = 2}
        local s = 0
        for _, v in pairs(t) do s = s + v end
        for i, v in ipairs(t) do s = s + i * v end
        local words = {}
        for w in string.gmatch("one two three", "%a+") do words[#words + 1] = w end
        local function upto(n, c) if c < n then return c + 1 end end
        for i in upto, 5, 0 do s = s + i end
        return s .. table.concat(words, "+")
    """,
    "yields across the iterator and C calls": """
        local gen = coroutine.wrap(function() for i = 1, 4 do coroutine.yield(i * i) end end)
        local out = {}
        for v in gen do out[#out + 1] = v end
        local co = coroutine.create(function(a)
          local b = coroutine.yield(a + 1)
          local c = select(2, pcall(coroutine.yield, b * 2))
          return c + 1
        end)
        local _, x = coroutine.resume(co, 1)
        local _, y = coroutine.resume(co, 10)
        local _, z = coroutine.resume(co, 100)
        return table.concat(out, ",") .. ";" .. x .. "," .. y .. "," .. z
    """,
    "errors raised inside calls": """
        local out = {}
        out[1] = select(2, pcall(string.rep))
        out[2] = select(2, pcall(function() for _ in next, 5 do end end))
        out[3] = select(2, pcall(error, {code = 7})).code
        out[4] = select(2, pcall(function() local function f() error("deep", 2) end f() end))
        for i = 1, #out do out[i] = tostring(out[i]):gsub("^.-:%d+: ", "") end
        return table.concat(out, "|")
    """,
    "C stack overflow through nested iterators": """
        local function nest(n) if n == 0 then return end for _ in function() nest(n - 1) end do end end
        local ok, err = pcall(nest, 400)
        return tostring(ok) .. ":" .. tostring(err:find("stack overflow") ~= nil)
    """,
    "keys off their main position, removed keys and globals": """
        local t = {}
        for i = 1, 500 do t["k" .. i] = i end
        for i = 1, 500, 3 do t["k" .. i] = nil end
        local s, missing = 0, 0
        for i = 1, 500 do local v = t["k" .. i] if v then s = s + v else missing = missing + 1 end end
        local o = setmetatable({}, {__index = {get = function(self) return self.v end}})
        o.v = 5
        GLOBAL_X = 3
        return s .. ":" .. missing .. ":" .. o:get() .. ":" .. GLOBAL_X .. ":" .. tostring(t.nothere)
    """,
    "__index chains with keys of every kind": """
        local base = {1, 2, 3, s = "str", [2.5] = "half", [true] = "yes", [4.0] = "four"}
        local mid = setmetatable({}, {__index = base})
        local o = setmetatable({}, {__index = mid})
        local f = setmetatable({}, {__index = function(_, k) return "fn:" .. tostring(k) end})
        local long = string.rep("k", 50)
        base[long] = "long"
        local k = "s"
        return table.concat({o[1], o[3], o[k], o.s, o[2.5], o[true], o[4], o[long], tostring(o.nothere),
                             f.x, f[1], f[2.5]}, ",")
    """,
    "equality with constants (OP_EQK) of every kind": """
        local vals = {1, 3, 3.0, 2.5, 0/0, "gamma", string.rep("x", 50), true, false, {}, print}
        vals[#vals + 1] = nil
        local out = {}
        for i = 1, 12 do
          local v = vals[i]
          out[#out + 1] = (v == 3.0 and "a" or "-") .. (v == 2.5 and "b" or "-") .. (v == "gamma" and "c" or "-")
            .. (v == string.rep("x", 50) and "d" or "-") .. (v == nil and "e" or "-") .. (v == true and "f" or "-")
            .. (v == false and "g" or "-") .. (v ~= "gamma" and "h" or "-") .. (v == 1e300 and "i" or "-")
        end
        return table.concat(out, " ")
    """,
}


@pytest.fixture(scope="module")
def native():
    from lupa import lua54

    return lua54.LuaRuntime()


@pytest.mark.parametrize("name", list(CHUNKS))
def test_calls_match_native_lua(name: str, native) -> None:
    chunk = CHUNKS[name]
    vm = LuaVM(memory_bytes=32 * 1024 * 1024)
    res = vm.eval(chunk, "=calls")
    assert res.ok, res.error
    want = native.execute(chunk)
    assert res.values == [want]
