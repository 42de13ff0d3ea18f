"""What rich output from a cell may carry into the page (rich_output.py through
display.py): text/html sanitized, text/markdown and text/latex neutralized by
the shared table of cases (tests/shared/rich_output_cases.json, which
jupyterlite/test/rich_output.test.ts runs too), other MIME types refused with
a Lua error, and one hostile display through the real kernel."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lua_wasm_kernel.display import Display
from lua_wasm_kernel.hostcall import HostCallError
from lua_wasm_kernel.serializer import LuaTable

CASES_PATH = Path(__file__).with_name("shared") / "rich_output_cases.json"
SHARED = json.loads(CASES_PATH.read_text(encoding="utf-8"))
CASES: list[list[str]] = SHARED["cases"]
LATEX_CASES: list[list[str]] = SHARED["latex"]
HOSTILE_HTML = (
    '<b>bold</b><img src=x onerror="alert(1)"><a href="javascript:alert(1)">j</a>'
    '<a href=" JaVaScRiPt:alert(1)">k</a><script>alert(2)</script><iframe src="/"></iframe>'
    '<svg onload="alert(3)"></svg><form action="/x"><input name=a></form><base href="/evil/">'
    '<meta http-equiv="refresh" content="0;url=/x"><link rel=import href=/x><object data=x></object>'
    '<embed src=x><a href="data:text/html,<script>alert(4)</script>">d</a><div onclick="alert(5)">div</div>'
    '<p style="color: red; position: fixed; background-image: url(javascript:alert(6))">p</p>'
)


def shown(kind: str, data: Any) -> dict[str, Any]:
    """The display_data bundle that display.<kind>(data) sends."""
    sent: list[tuple[str, dict[str, Any]]] = []
    Display(lambda msg_type, content: sent.append((msg_type, content))).display(kind, data)
    assert [m for m, _ in sent] == ["display_data"]
    return sent[0][1]["data"]


def test_html_loses_script_handlers_and_script_urls() -> None:
    html = shown("html", HOSTILE_HTML)["text/html"]
    lowered = html.lower()
    for bad in ("<script", "onerror", "onload", "onclick", "javascript:", "<iframe", "<form", "<input",
                "<base", "<meta", "<link", "<object", "<embed", "data:text", "position", "url(", "<svg"):
        assert bad not in lowered, (bad, html)
    assert "<b>bold</b>" in html and "<div>div</div>" in html and 'style="color:red"' in html.replace(" ", "")


def test_safe_markup_is_kept() -> None:
    html = ('<h2 id="t">Table</h2><table><thead><tr><th colspan="2">a</th></tr></thead><tbody><tr>'
            '<td>1</td><td><code>x</code></td></tr></tbody></table><ul><li><i>i</i></li></ul><pre>p</pre>'
            '<a href="https://www.lua.org/">lua</a><img src="data:image/png;base64,iVBORw0KGgo=" alt="dot">')
    out = shown("html", html)["text/html"]
    for kept in ('<h2>', '<th colspan="2">', "<td><code>x</code></td>", "<li><i>i</i></li>", "<pre>p</pre>",
                 'href="https://www.lua.org/"', 'src="data:image/png;base64,iVBORw0KGgo="'):
        assert kept in out, (kept, out)
    assert ' id=' not in out  # ids would shadow the page's globals


def test_html_through_display_data_is_sanitized_too() -> None:
    out = shown("data", LuaTable([("text/html", '<img src=x onerror="alert(1)">'), ("text/plain", "img")]))
    assert out == {"text/html": '<img src="x">', "text/plain": "img"}


@pytest.mark.parametrize("mime", ["application/javascript", "text/javascript",
                                  "application/vnd.jupyter.widget-view+json", "application/vnd.custom+json",
                                  "text/x-unknown", "application/pdf", "text/html; charset=utf-8"])
def test_other_mime_types_are_refused_with_the_allowed_list(mime: str) -> None:
    with pytest.raises(HostCallError) as e:
        shown("data", LuaTable([(mime, "alert(1)"), ("text/plain", "x")]))
    message = str(e.value)
    assert f"'{mime}' is refused" in message and "run script" in message
    assert "text/html, text/markdown" in message and "image/png" in message


@pytest.mark.parametrize("name,source,expected", CASES, ids=[c[0] for c in CASES])
def test_markdown_cases(name: str, source: str, expected: str) -> None:
    assert shown("markdown", source)["text/markdown"] == expected


@pytest.mark.parametrize("name,source,expected", LATEX_CASES, ids=[c[0] for c in LATEX_CASES])
def test_latex_cases(name: str, source: str, expected: str) -> None:
    assert shown("latex", source)["text/latex"] == expected


def test_refused_type_is_a_lua_error_in_the_kernel() -> None:
    from test_kernel_display import Frontend

    f = Frontend()
    try:
        reply, out, _ = f.run("display.data{['application/javascript'] = 'alert(1)'}")
        assert reply["status"] == "error" and "'application/javascript' is refused" in reply["evalue"]
        assert not [m for m in out if m["msg_type"] == "display_data"]
        reply, out, _ = f.run("""display.html('<img src=x onerror="document.title=1">')""")
        assert reply["status"] == "ok"
        assert [m["data"]["text/html"] for m in out if m["msg_type"] == "display_data"] == ['<img src="x">']
    finally:
        f.close()
