"""lua_wasm_jupyterlite.serve: a built site served with the cross-origin isolation headers."""
from __future__ import annotations

import sys
import threading
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "jupyterlite"))
from lua_wasm_jupyterlite import serve  # noqa: E402


def test_every_response_carries_the_isolation_headers(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<p>site</p>")
    (tmp_path / "lua.wasm").write_bytes(b"\0asm\1\0\0\0")
    httpd = serve.server(tmp_path)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{httpd.server_address[1]}"
        for path, body in (("/index.html", b"<p>site</p>"), ("/lua.wasm", b"\0asm\1\0\0\0")):
            with urllib.request.urlopen(base + path, timeout=10) as response:
                assert response.read() == body
                for name, value in serve.ISOLATION_HEADERS:
                    assert response.headers[name] == value, name
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_folder_that_is_no_site_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="jupyter lite build"):
        serve.server(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        serve.main([str(tmp_path), "--port", "0"])
    assert exit_info.value.code == 2
