"""Writes the example notebooks: their cells here, their outputs from a real run.

`python notebooks/generate.py` runs each notebook top to bottom in a fresh
lua-wasm kernel (through nbclient), against a fresh temporary store for
external tables, and saves it with its outputs, which nbval then checks
(`python -m pytest notebooks`). Edit the cells here, not in the .ipynb files.
`python notebooks/generate.py counter` rewrites only counter.ipynb.
"""
from __future__ import annotations

import logging
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbclient
import nbformat

log = logging.getLogger("notebooks.generate")

HERE = Path(__file__).resolve().parent
KERNEL_NAME = "lua-wasm"
CELL_TIMEOUT_SECONDS = 60
RAISES = ["raises-exception"]
IGNORE_OUTPUT = ["nbval-ignore-output"]


@dataclass
class Cell:
    """One cell: markdown, or Lua code with its nbval tags."""

    source: str
    markdown: bool = False
    tags: list[str] = field(default_factory=list)


def md(source: str) -> Cell:
    return Cell(source.strip("\n"), markdown=True)


def lua(source: str, tags: list[str] | None = None) -> Cell:
    return Cell(source.strip("\n"), tags=list(tags or []))


TOUR = [
    md("""
# A tour of lua-wasm
Lua 5.4 running inside WebAssembly: one persistent Lua state per kernel, a hard memory cap, and output that streams while a cell runs.
"""),
    md("A cell is first tried as `return <cell>`, as the `lua` REPL does, so a final expression shows its value."),
    lua("1 + 2"),
    lua("2^10"),
    md("Globals persist from cell to cell; `print` and `io.write` stream to the notebook."),
    lua("""
function fib(n)
  if n < 2 then return n end
  return fib(n - 1) + fib(n - 2)
end
print("fib(20) =", fib(20))
"""),
    lua("fib(25)"),
    lua("""
for i = 1, 3 do io.write(i, " ") end
print()
"""),
    md("Tables are shown nested and sorted; a trailing `;` hides the value."),
    lua("""
t = {1, 2, 3, name = "lua", nested = {x = 1.5}}
t
"""),
    lua("x = 10;"),
    lua('x * 2, string.format("%s has %d items", t.name, #t)'),
    md("Functions and tables without a readable form show their address, as `print` does."),
    lua("fib"),
    md("Errors name the cell and line, and the state survives them. This cell fails on its second line:"),
    lua("""
local point = nil
print(point.x)
""", RAISES),
    md("The globals of earlier cells are still there, and `pcall` catches an error as in any Lua:"),
    lua("x, pcall(error, \"oops\")"),
    lua('os.date("!%Y-%m-%d", 0)'),
    md("Rich output goes through the `display` module."),
    lua('display.markdown("**Lua** says *hello* from WebAssembly")'),
    lua('display.html("<b>" .. #t .. " items</b>")'),
]

COUNTER = [
    md("""
# A counter that survives a restart
`ext.table(name)` gives a table that lives outside the VM, in the kernel, and is saved to disk after each cell.
Run this notebook, restart the kernel (Kernel > Restart), run it again: the count goes up.
"""),
    lua("""
counter = ext.table("counter")
counter.runs = (counter.runs or 0) + 1
print("this notebook has run " .. counter.runs .. " time(s) on this store")
"""),
    md("Each run of the next cell adds one click; a Lua global would be lost at a restart, the external table keeps it."),
    lua("""
counter.clicks = (counter.clicks or 0) + 1
counter.clicks
"""),
    md("The names of all external tables of this notebook:"),
    lua("ext.tables()"),
    md("A proxy prints as its name; reading a key gives a copy of the stored value."),
    lua("counter, counter.runs"),
]

TODO = [
    md("""
# A todo list in an external table
The list lives in `ext.table("todos")`, so it survives a kernel restart. This notebook starts from an empty list.
"""),
    lua("""
ext.drop("todos")
todos = ext.table("todos")

-- Adds a todo at the end of the list and returns its number.
function add(text)
  todos[#todos + 1] = {text = text, done = false}
  return #todos
end

-- Marks todo i as done.
function complete(i)
  local item = todos[i] or error("no todo number " .. i, 2)
  item.done = true
  todos[i] = item            -- values are stored by copy: write the change back
end

-- Removes todo i, moving the later ones up.
function remove(i)
  local n = #todos
  if not todos[i] then error("no todo number " .. i, 2) end
  for k = i, n - 1 do todos[k] = todos[k + 1] end
  todos[n] = nil
end
"""),
    md("Listing: as text with `print`, and as a small HTML table through `display.html`."),
    lua("""
local function escape(s)
  return (s:gsub("[&<>\\"]", {["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;"}))
end

function list()
  for i, item in ipairs(todos) do
    print(i, item.done and "[x]" or "[ ]", item.text)
  end
end

function show()
  local rows = {}
  for i, item in ipairs(todos) do
    rows[#rows + 1] = string.format("<tr><td>%d</td><td>%s</td><td>%s</td></tr>",
      i, item.done and "&#10003;" or "", escape(item.text))
  end
  display.html("<table><thead><tr><th>#</th><th>done</th><th>todo</th></tr></thead><tbody>"
    .. table.concat(rows) .. "</tbody></table>")
end
"""),
    lua("""
add("buy milk")
add("write the report")
add("call <Alice> & Bob")
add("water the plants")
list()
"""),
    lua("""
complete(1)
complete(3)
remove(2)
show()
"""),
    md("A todo that does not exist is a clear error, naming the cell and line of the call:"),
    lua("""
complete(9)
show()
""", RAISES),
    md("The table is still intact:"),
    lua("#todos, todos[1].text, todos[1].done"),
]

DATA = [
    md("""
# Processing 20,000 records
`sales.csv`, beside this notebook, holds 20,000 sales records: more than the VM's 2 MiB memory can hold as Lua tables. They are read with Lua's own `io.lines` (the kernel lets a notebook read files in its folder) into an external table, outside the VM, and then read one at a time.
"""),
    md("First, the proof that they do not fit as Lua tables: building them in a local table runs out of memory, which `pcall` catches."),
    lua("""
local ok, err = pcall(function()
  local records = {}
  for i = 1, 20000 do
    records[i] = {day = i % 365 + 1, region = "north", product = "apples", qty = 3, price = 1.25}
  end
  return #records
end)
print(ok, err)
"""),
    md("Now the file, line by line, into an external table. Each record is stored by value, one crossing from the VM to the kernel per record."),
    lua("""
REGIONS = {"north", "south", "east", "west"}
PRODUCTS = {"apples", "pears", "plums", "figs"}

ext.drop("sales")
sales = ext.table("sales")
local lines = io.lines("sales.csv")
assert(lines() == "day,region,product,qty,price", "sales.csv: unexpected header")
for line in lines do
  local day, region, product, qty, price = line:match("^(%d+),(%a+),(%a+),(%d+),([%d.]+)$")
  sales[#sales + 1] = {day = tonumber(day), region = region, product = product,
                       qty = tonumber(qty), price = tonumber(price)}
end
print(#sales .. " records, the first:")
sales[1]
"""),
    md("The VM itself stays small: the records are not in its heap."),
    lua("""
local m = wasm.memory()
print(string.format("heap in use: %d KiB of a %d KiB VM", m.used // 1024, m.limit // 1024))
""", IGNORE_OUTPUT),
    md("Filter (orders of at least 5 items), group by region and product, and aggregate (orders, items, revenue):"),
    lua("""
summary = {}
for _, r in ipairs(sales) do
  if r.qty >= 5 then
    local key = r.region .. "/" .. r.product
    local g = summary[key]
    if not g then
      g = {region = r.region, product = r.product, orders = 0, items = 0, revenue = 0.0}
      summary[key] = g
    end
    g.orders = g.orders + 1
    g.items = g.items + r.qty
    g.revenue = g.revenue + r.qty * r.price
  end
end

by_region = {}
for _, region in ipairs(REGIONS) do       -- a fixed order, so the sums do not depend on pairs()
  by_region[region] = 0.0
  for _, product in ipairs(PRODUCTS) do
    local g = summary[region .. "/" .. product]
    by_region[region] = by_region[region] + (g and g.revenue or 0)
  end
end
string.format("north: %.2f, south: %.2f, east: %.2f, west: %.2f",
  by_region.north, by_region.south, by_region.east, by_region.west)
"""),
    md("The groups as an HTML table, sorted by revenue:"),
    lua("""
rows = {}
for _, g in pairs(summary) do rows[#rows + 1] = g end
table.sort(rows, function(a, b)
  if a.revenue ~= b.revenue then return a.revenue > b.revenue end
  return a.region .. a.product < b.region .. b.product
end)

local html = {"<table><thead><tr><th>region</th><th>product</th><th>orders</th>",
              "<th>items</th><th>revenue</th></tr></thead><tbody>"}
for _, g in ipairs(rows) do
  html[#html + 1] = string.format(
    "<tr><td>%s</td><td>%s</td><td>%d</td><td>%d</td><td>%.2f</td></tr>",
    g.region, g.product, g.orders, g.items, g.revenue)
end
html[#html + 1] = "</tbody></table>"
display.html(table.concat(html))
"""),
    md("And the revenue per region as a bar chart, drawn from Lua as SVG:"),
    lua("""
local width, bar_height, gap, label_width = 420, 28, 8, 60
local max = 0
for _, region in ipairs(REGIONS) do max = math.max(max, by_region[region]) end

local svg = {string.format(
  '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="13">',
  width + label_width + 90, #REGIONS * (bar_height + gap))}
for i, region in ipairs(REGIONS) do
  local y = (i - 1) * (bar_height + gap)
  local w = math.floor(by_region[region] / max * width)
  svg[#svg + 1] = string.format('<text x="0" y="%d">%s</text>', y + 19, region)
  svg[#svg + 1] = string.format('<rect x="%d" y="%d" width="%d" height="%d" fill="#4a7ebb"/>',
    label_width, y, w, bar_height)
  svg[#svg + 1] = string.format('<text x="%d" y="%d">%.0f</text>', label_width + w + 6, y + 19, by_region[region])
end
svg[#svg + 1] = "</svg>"
display.svg(table.concat(svg, "\\n"))
"""),
]

STATE_MACHINE = [
    md("""
# A traffic light as a state machine
The light's state lives in an external table, so it survives a kernel restart; each cell below fires one event.
The first cell resets it to red.
"""),
    lua("""
TRANSITIONS = {
  red    = {go = "green"},
  green  = {slow = "yellow"},
  yellow = {stop = "red"},
}
COLORS = {red = "#d33", yellow = "#eb3", green = "#3a3"}

light = ext.table("traffic-light")
light.state = "red"
light.log = {"red"}

-- Draws the light, its current lamp lit.
function draw()
  local lamps = {}
  for i, name in ipairs({"red", "yellow", "green"}) do
    local fill = name == light.state and COLORS[name] or "#444"
    lamps[i] = string.format('<circle cx="30" cy="%d" r="20" fill="%s"/>', 30 + (i - 1) * 50, fill)
  end
  display.svg('<svg xmlns="http://www.w3.org/2000/svg" width="60" height="160">'
    .. '<rect width="60" height="160" rx="10" fill="#222"/>' .. table.concat(lamps) .. '</svg>')
end

-- Fires an event: moves to the next state, or raises an error naming both.
function fire(event)
  local to = TRANSITIONS[light.state][event]
  if not to then
    error(string.format("no transition '%s' from state '%s' (allowed: %s)",
      event, light.state, table.concat(allowed(), ", ")), 2)
  end
  light.state = to
  local log = light.log
  log[#log + 1] = to
  light.log = log
  print(event .. " -> " .. to)
end

-- The events the current state accepts, sorted.
function allowed()
  local events = {}
  for event in pairs(TRANSITIONS[light.state]) do events[#events + 1] = event end
  table.sort(events)
  return events
end
draw()
"""),
    lua("""
fire("go")
draw()
"""),
    lua("""
fire("slow")
draw()
"""),
    md("A yellow light cannot go straight back to green: the transition is refused with an error naming the cell and line, and the state is unchanged."),
    lua("""
fire("go")
draw()
""", RAISES),
    lua("light.state, allowed()"),
    lua("""
fire("stop")
draw()
"""),
    md("The path so far, kept in the external table:"),
    lua('table.concat(light.log, " -> ")'),
]

NOTEBOOKS: dict[str, list[Cell]] = {
    "tour": TOUR,
    "counter": COUNTER,
    "todo-list": TODO,
    "data-processing": DATA,
    "state-machine": STATE_MACHINE,
}


def build(cells: list[Cell]) -> nbformat.NotebookNode:
    """A notebook for the lua-wasm kernel holding these cells, without outputs."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": KERNEL_NAME, "display_name": "Lua 5.4 (WASM)", "language": "lua"}
    nb.metadata["language_info"] = {"name": "lua"}
    for cell in cells:
        if cell.markdown:
            nb.cells.append(nbformat.v4.new_markdown_cell(cell.source))
        else:
            code = nbformat.v4.new_code_cell(cell.source)
            if cell.tags:
                code.metadata["tags"] = cell.tags
            nb.cells.append(code)
    return nb


def execute(nb: nbformat.NotebookNode, store: Path) -> nbformat.NotebookNode:
    """Runs the notebook in a fresh kernel whose external tables live in `store`."""
    previous = os.environ.get("LUA_WASM_CHECKPOINT_DIR")
    os.environ["LUA_WASM_CHECKPOINT_DIR"] = str(store)
    try:
        client = nbclient.NotebookClient(
            nb,
            kernel_name=KERNEL_NAME,
            timeout=CELL_TIMEOUT_SECONDS,
            record_timing=False,
            resources={"metadata": {"path": str(HERE)}},
        )
        client.execute()
    finally:
        if previous is None:
            os.environ.pop("LUA_WASM_CHECKPOINT_DIR", None)
        else:
            os.environ["LUA_WASM_CHECKPOINT_DIR"] = previous
    return nb


SALES_CSV = HERE / "sales.csv"
SALES_RECORDS = 20_000


def write_sales_csv() -> None:
    """notebooks/sales.csv: the data-processing notebook's records, from a fixed seed."""
    import random

    rng = random.Random(42)
    prices = {"apples": "1.20", "pears": "1.50", "plums": "2.10", "figs": "3.40"}
    rows = ["day,region,product,qty,price"]
    for _ in range(SALES_RECORDS):
        product = rng.choice(list(prices))
        rows.append(f"{rng.randint(1, 365)},{rng.choice(['north', 'south', 'east', 'west'])},"
                    f"{product},{rng.randint(1, 20)},{prices[product]}")
    SALES_CSV.write_text("\n".join(rows) + "\n")


def main(names: list[str]) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    write_sales_csv()
    unknown = [name for name in names if name not in NOTEBOOKS]
    if unknown:
        raise SystemExit(f"unknown notebook(s): {', '.join(unknown)}; known: {', '.join(NOTEBOOKS)}")
    for name in names or list(NOTEBOOKS):
        with tempfile.TemporaryDirectory(prefix="lua-wasm-store-") as store:
            nb = execute(build(NOTEBOOKS[name]), Path(store))
        path = HERE / f"{name}.ipynb"
        nbformat.write(nb, path)
        log.info("wrote %s", path.relative_to(HERE.parent))


if __name__ == "__main__":
    main(sys.argv[1:])
