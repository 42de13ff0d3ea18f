"""Serves a built JupyterLite site cross-origin isolated, so the Lua kernel's
memory is shared with the page (stop in place, streaming output, io.read).

    python -m lua_wasm_jupyterlite.serve _site --port 8000

Any static server works if it sends the two headers below on every response;
without them the kernel falls back as docs/ABI.md, "Hosts", says.
"""
from __future__ import annotations

import argparse
import functools
import http.server
import logging
from pathlib import Path

ISOLATION_HEADERS = (
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Embedder-Policy", "require-corp"),
)

log = logging.getLogger("lua_wasm_jupyterlite.serve")


class IsolatedHandler(http.server.SimpleHTTPRequestHandler):
    """A static file handler that sends the cross-origin isolation headers."""

    def end_headers(self) -> None:
        for name, value in ISOLATION_HEADERS:
            self.send_header(name, value)
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        log.debug(format, *args)


def server(site: Path, host: str = "127.0.0.1", port: int = 0) -> http.server.ThreadingHTTPServer:
    """A server for `site` (not started); port 0 picks a free one."""
    if not (site / "index.html").is_file():
        raise FileNotFoundError(f"{site} holds no JupyterLite site (no index.html): run `jupyter lite build` first")
    handler = functools.partial(IsolatedHandler, directory=str(site))
    return http.server.ThreadingHTTPServer((host, port), handler)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m lua_wasm_jupyterlite.serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("site", type=Path, nargs="?", default=Path("_site"), help="the built site (default: _site)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--bind", default="127.0.0.1", help="the address to listen on (default: 127.0.0.1)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        httpd = server(args.site, args.bind, args.port)
    except (FileNotFoundError, OSError) as e:
        parser.exit(2, f"error: {e}\n")
    log.info("Serving %s cross-origin isolated at http://%s:%d/lab/index.html", args.site, args.bind, httpd.server_address[1])
    with httpd:
        try:
            httpd.serve_forever()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
