-- What the README's first command runs: `jupyter run --kernel=lua-wasm notebooks/hello.lua`
-- sends this file to a fresh lua-wasm kernel as one cell and prints what it printed.
local memory = wasm.memory()
print(string.format("%s in WebAssembly, a VM of %d KiB", _VERSION, memory.limit // 1024))

local function fib(n)
  if n < 2 then return n end
  return fib(n - 1) + fib(n - 2)
end
print("fib(25) = " .. fib(25))

local squares = {}
for i = 1, 10 do squares[i] = i * i end
print("squares: " .. table.concat(squares, " "))
