"""What rich output may carry into the page: the MIME types a cell may send
and the cleaning of those that could carry script (rules in rich_output.json,
which the browser host reads too).

JupyterLab renders a cell's output as trusted, but the cell's code is not:
a type whose rendering could run script is refused, text/html is sanitized
(nh3), text/markdown goes through `neutralize` and text/latex through
`break_script_urls`, pure-text rules both hosts share
(tests/shared/rich_output_cases.json).
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

RULES_PATH = Path(__file__).with_name("rich_output.json")


class RefusedOutput(ValueError):
    """A MIME type a cell may not send; the message names it, why, and the allowed list."""


@lru_cache(maxsize=1)
def rules() -> dict[str, Any]:
    return json.loads(RULES_PATH.read_text(encoding="utf-8"))


def allowed_types() -> list[str]:
    return list(rules()["mime_types"])


def check_type(mime: str) -> None:
    """Raises RefusedOutput unless a cell may send `mime`."""
    if mime not in rules()["mime_types"]:
        raise RefusedOutput(
            f"display: '{mime}' is refused: the notebook renders it as trusted output, where it could run "
            f"script in the page; allowed types: {', '.join(allowed_types())}")


def clean_bundle(bundle: dict[str, Any]) -> dict[str, Any]:
    """The bundle with every type checked and the text types cleaned for the page."""
    out: dict[str, Any] = {}
    for mime, data in bundle.items():
        check_type(mime)
        how = rules()["mime_types"][mime]["clean"]
        if how == "html":
            data = clean_html(data)
        elif how == "markdown":
            data = neutralize(data)
        elif how == "latex":  # shown as text, then typeset: only its links matter
            data = break_script_urls(data)
        out[mime] = data
    return out


# -- text/html

def clean_html(html: str) -> str:
    """html with only the allowed tags, attributes, URL schemes and style properties."""
    import nh3  # imported on first use: most kernels never display HTML

    policy = rules()["html"]
    return nh3.clean(
        html,
        tags=set(policy["tags"]),
        clean_content_tags={"script", "style"},
        attributes={tag: set(names) for tag, names in policy["attributes"].items()},
        attribute_filter=_attribute_filter,
        url_schemes=set(policy["url_schemes"]) | {"data"},
        filter_style_properties=set(policy["style_properties"]),
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


def _attribute_filter(tag: str, name: str, value: str) -> str | None:
    """data: URLs only as an <img>'s src, and only of the allowed image types."""
    if value.lstrip().lower().startswith("data:") and name in ("href", "src", "cite", "action", "srcset", "poster"):
        keep = tag == "img" and name == "src" and value.lstrip().lower().startswith(
            tuple(rules()["html"]["image_data_prefixes"]))
        return value if keep else None
    return value


# -- text/markdown and text/latex

# `<` stays as it is only before what cannot start a tag; `&` is escaped only
# where it starts a character reference (HTML and CommonMark: `&#`, `&name`).
# ASCII classes only, so that rich_output.ts's regular expressions match alike.
_TAG_OR_ENTITY_START = re.compile(r"<(?![ \t\n\r\f\v0-9=<>()\-]|$)|&(?=[A-Za-z0-9#])")


@lru_cache(maxsize=1)
def _schemes() -> re.Pattern[str]:
    gap = r"[\x00-\x20\\]*"
    words = "|".join(gap.join(re.escape(c) for c in scheme) for scheme in rules()["broken_url_schemes"])
    return re.compile(rf"(?<![A-Za-z0-9+.\-])((?:{words}){gap}):", re.IGNORECASE | re.ASCII)


def neutralize(text: str) -> str:
    """text with no tag, entity or script URL left for a markdown or MathJax renderer.

    Context-free (no markdown parsing, so no disagreement with the renderer can
    leave HTML live): `<` and `&` before a character that could start a tag or
    an entity become `&lt;` and `&amp;` (the text reads the same; inside code
    they show as written, a cosmetic cost), and script URLs are broken.
    """
    return break_script_urls(_TAG_OR_ENTITY_START.sub(lambda m: "&lt;" if m.group() == "<" else "&amp;", text))


def break_script_urls(text: str) -> str:
    """The colon of javascript:, vbscript: and data: (letters split by spaces,
    control characters or backslashes, any case) becomes %3A."""
    return _schemes().sub(r"\1%3A", text)
