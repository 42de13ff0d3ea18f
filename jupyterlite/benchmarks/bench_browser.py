"""The browser kernel's numbers, printed as a docs/BENCHMARKS.md section.

Builds a JupyterLite site with the extension as built in ../lua_wasm_jupyterlite
(run `npm run build` first), serves it on 127.0.0.1 and drives Debian's chromium
(headless) with Playwright:
- opening a notebook until the kernel is idle (in-page time since navigation start,
  a new browser context each time: nothing cached);
- a trivial cell's round trip (Ctrl+Enter until the prompt's number changes,
  measured in the driver: it includes Playwright's own latency);
- the engine workloads of benchmarks/bench_engine.py, each timed inside Lua with
  os.clock, in the browser's worker and in the Python host (LuaVM), same memory;
- the stop button on `while true do end`, from its click to the cell's prompt
  showing a number (in-page time), with the site served cross-origin isolated
  (stopped in place by the page's watcher) and plainly (the worker restarted
  from the cell's start).

    python jupyterlite/benchmarks/bench_browser.py [--runs 5]
"""
from __future__ import annotations

import argparse
import functools
import http.server
import json
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_engine import WORKLOADS  # noqa: E402

from lua_wasm_kernel.vm import LuaVM  # noqa: E402

LABEXTENSION = ROOT / "jupyterlite" / "lua_wasm_jupyterlite" / "labextension"
CHROMIUM = "/usr/bin/chromium"
MEMORY_BYTES = 32 * 1024 * 1024
WAIT_MS = 120_000
SPIN = "spins = (spins or 0) + 1\nwhile true do end"
SPIN_CELL = len(WORKLOADS) + 1
STOP_RUNS = 10


class _IsolatedHandler(http.server.SimpleHTTPRequestHandler):
    def end_headers(self) -> None:
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        super().end_headers()


def timed(chunk: str) -> str:
    body = "\n".join("  " + line for line in chunk.splitlines())
    return f"local clock = os.clock\nlocal function work()\n{body}\nend\nlocal t0 = clock()\nwork()\nreturn (clock() - t0) * 1000"


def build_site(work: Path) -> Path:
    ext = work / "extensions" / "@lua-wasm"
    ext.mkdir(parents=True)
    shutil.copytree(LABEXTENSION, ext / "jupyterlite-kernel")
    contents = work / "contents"
    contents.mkdir()
    cells = ["return 1 + 1"] + [timed(w.chunk()) for w in WORKLOADS] + [SPIN]
    notebook = {
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "lua-wasm", "display_name": "Lua 5.4 (WASM)", "language": "lua"}},
        "cells": [{"cell_type": "code", "id": f"c{i}", "metadata": {}, "execution_count": None, "outputs": [],
                   "source": src} for i, src in enumerate(cells)],
    }
    (contents / "bench.ipynb").write_text(json.dumps(notebook))
    (work / "overrides.json").write_text(json.dumps(
        {"@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"}}))
    (work / "jupyter-lite.json").write_text(json.dumps(
        {"jupyter-lite-schema-version": 0, "jupyter-config-data": {"luaWasmMemoryLimit": MEMORY_BYTES}}))
    site = work / "site"
    subprocess.run([sys.executable, "-m", "jupyterlite_core", "build", "--contents", str(contents), "--output-dir",
                    str(site), "--ignore-sys-prefix",
                    f"--FederatedExtensionAddon.extra_labextensions_path={work / 'extensions'}"],
                   cwd=work, check=True, capture_output=True)
    return site


def wait_idle(page) -> None:
    page.wait_for_function(
        "() => { const s = document.querySelector('.jp-Notebook-ExecutionIndicator');"
        " return s && /idle/i.test(s.getAttribute('data-status') || s.title || ''); }", timeout=WAIT_MS)


def run_cell(page, index: int) -> str:
    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    prompt = cell.locator(".jp-InputArea-prompt")
    before = prompt.inner_text()
    prompt.click()
    page.keyboard.press("Control+Enter")
    page.wait_for_function(
        "([i, before]) => { const p = document.querySelectorAll('.jp-Notebook .jp-Cell')[i]"
        ".querySelector('.jp-InputArea-prompt').innerText; return /\\[\\d+\\]/.test(p) && p !== before; }",
        arg=[index, before], timeout=WAIT_MS)
    return cell.locator(".jp-OutputArea").inner_text()


def measure_browser(url: str, runs: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    out: dict[str, list[float]] = {"open": [], "round_trip": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        for _ in range(runs):
            context = browser.new_context()
            page = context.new_page()
            page.goto(f"{url}/notebooks/index.html?path=bench.ipynb")
            wait_idle(page)
            out["open"].append(page.evaluate("performance.now()"))
            context.close()
        context = browser.new_context()
        page = context.new_page()
        page.goto(f"{url}/notebooks/index.html?path=bench.ipynb")
        wait_idle(page)
        run_cell(page, 0)  # warm-up
        for _ in range(20):
            t0 = time.perf_counter()
            run_cell(page, 0)
            out["round_trip"].append((time.perf_counter() - t0) * 1000)
        for _ in range(runs):
            for i, w in enumerate(WORKLOADS, start=1):
                text = run_cell(page, i)
                numbers = re.findall(r"\d+(?:\.\d+)?(?:e[-+]?\d+)?", text.split(":")[-1])
                out.setdefault(w.name, []).append(float(numbers[-1]))
        context.close()
        browser.close()
    return out


STOP_JS = """([i]) => new Promise(resolve => {
  const prompt = document.querySelectorAll('.jp-Notebook .jp-Cell')[i].querySelector('.jp-InputArea-prompt');
  const t0 = performance.now();
  const seen = new MutationObserver(() => {
    if (/\\[\\d+\\]/.test(prompt.innerText)) { seen.disconnect(); resolve(performance.now() - t0); }
  });
  seen.observe(prompt, { childList: true, subtree: true, characterData: true });
  setTimeout(() => resolve(-1), 60000);
  // JupyterLab's toolbar buttons act on mousedown, as a real click begins.
  const stop = document.querySelector("[data-command='notebook:interrupt-kernel']");
  stop.dispatchEvent(new MouseEvent('mousedown', { bubbles: true, cancelable: true, button: 0 }));
})"""


def measure_stop(url: str, runs: int, isolated: bool) -> list[float]:
    """The stop button on a spinning cell: ms from the click to the cell's prompt number (in-page)."""
    from playwright.sync_api import sync_playwright

    out = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_context().new_page()
        page.goto(f"{url}/notebooks/index.html?path=bench.ipynb")
        wait_idle(page)
        if page.evaluate("self.crossOriginIsolated === true") != isolated:
            raise RuntimeError(f"the page is {'not ' if isolated else ''}cross-origin isolated")
        cell = page.locator(".jp-Notebook .jp-Cell").nth(SPIN_CELL)
        for _ in range(runs):
            cell.locator(".jp-InputArea-prompt").click()
            page.keyboard.press("Control+Enter")
            cell.locator(".jp-InputArea-prompt").filter(has_text="[*]").wait_for(timeout=WAIT_MS)
            time.sleep(0.5)  # inside the loop
            elapsed = page.evaluate(STOP_JS, [SPIN_CELL])
            if elapsed < 0:
                raise RuntimeError("the stop button did not end the cell within 60 s")
            out.append(elapsed)
            text = cell.locator(".jp-OutputArea").inner_text()
            if "interrupted!" not in text or ("rolled back" in text) == isolated:
                raise RuntimeError(f"unexpected stop: {text!r}")
        browser.close()
    return out


def measure_python(runs: int) -> dict[str, list[float]]:
    vm = LuaVM(memory_bytes=MEMORY_BYTES)
    out: dict[str, list[float]] = {}
    for _ in range(runs):
        for w in WORKLOADS:
            result = vm.eval(timed(w.chunk()), "=bench")
            if not result.ok:
                raise RuntimeError(f"{w.name}: {result.error}")
            out.setdefault(w.name, []).append(float(result.values[0]))
    return out


def chromium_version() -> str:
    try:
        return subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "chromium (unknown version)"


def section(browser: dict[str, list[float]], python: dict[str, list[float]], runs: int) -> str:
    med = statistics.median
    stop_in_place, stop_restart = browser["stop_in_place"], browser["stop_restart"]
    lines = [
        "## Browser kernel (JupyterLite)",
        "",
        f"_Measured by `python jupyterlite/benchmarks/bench_browser.py` on {time.strftime('%Y-%m-%d %H:%M')}_ "
        f"({chromium_version()}, headless; Python {platform.python_version()}; same 2-core machine, shared).",
        "",
        "| what | median | min | max |",
        "|---|---:|---:|---:|",
        f"| opening a notebook until the kernel is idle (page load, extension, worker, lua.wasm compiled, Lua state made; nothing cached), {runs} runs | "
        f"{med(browser['open']):.0f} ms | {min(browser['open']):.0f} ms | {max(browser['open']):.0f} ms |",
        f"| a trivial cell's round trip (`return 1 + 1`, Ctrl+Enter until its prompt changes; includes the driver's latency), 20 runs | "
        f"{med(browser['round_trip']):.1f} ms | {min(browser['round_trip']):.1f} ms | {max(browser['round_trip']):.1f} ms |",
        f"| stop button on `while true do end`, cross-origin isolated: stopped in place by the page's watcher "
        f"(click to the prompt's number, in-page), {len(stop_in_place)} runs | "
        f"{med(stop_in_place):.1f} ms | {min(stop_in_place):.1f} ms | {max(stop_in_place):.1f} ms |",
        f"| the same, not isolated: the worker ended and restarted from the cell's start "
        f"(the prompt's number comes before the new worker is ready), {len(stop_restart)} runs | "
        f"{med(stop_restart):.1f} ms | {min(stop_restart):.1f} ms | {max(stop_restart):.1f} ms |",
        "",
        f"Engine workloads of `benchmarks/bench_engine.py`, each timed inside Lua with `os.clock` (the browser "
        f"host's is the worker's elapsed time, the Python host's the process's CPU time), memory "
        f"{MEMORY_BYTES // (1024 * 1024)} MiB, median of {runs} runs; ratio = browser / Python host (wasmtime).",
        "",
        "| workload | browser (ms) | Python host (ms) | ratio |",
        "|---|---:|---:|---:|",
    ]
    ratios = []
    for w in WORKLOADS:
        b, p = med(browser[w.name]), med(python[w.name])
        ratios.append(b / p)
        lines.append(f"| {w.name} | {b:.1f} | {p:.1f} | {b / p:.2f}× |")
    geo = statistics.geometric_mean(ratios)
    lines += [f"| **geometric mean** | | | **{geo:.2f}×** |", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not (LABEXTENSION / "static" / "lua.wasm").exists():
        print("build the extension first: cd jupyterlite && npm run build", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        site = build_site(Path(tmp))
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
        http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None  # type: ignore[method-assign]
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        isolated = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_IsolatedHandler, directory=str(site)))
        threading.Thread(target=isolated.serve_forever, daemon=True).start()
        try:
            url = f"http://127.0.0.1:{server.server_address[1]}"
            browser = measure_browser(url, args.runs)
            browser["stop_in_place"] = measure_stop(f"http://127.0.0.1:{isolated.server_address[1]}", STOP_RUNS, True)
            browser["stop_restart"] = measure_stop(url, STOP_RUNS, False)
        finally:
            server.shutdown()
            isolated.shutdown()
    python = measure_python(args.runs)
    print(section(browser, python, args.runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
