"""Rich output from Lua: the host functions behind the `display` module and
`help` (src/display.lua), turned into Jupyter messages.

`display` sends display_data (or update_display_data), `clear_output` sends
clear_output, `page` collects a pager payload for the execute_reply, and
`describe` gives help(x) the text inspect.py gives Shift-Tab. What a bundle
may carry into the page (refused types, sanitized HTML) is rich_output.py's.
"""
from __future__ import annotations

import base64
import json
import math
import uuid
from typing import TYPE_CHECKING, Any, Callable

from .hostcall import HostCallError
from .rich_output import RefusedOutput, check_type, clean_bundle
from .serializer import Cycle, LuaTable, Opaque, Truncated

if TYPE_CHECKING:
    from .vm import LuaVM

# msg_type and content of an IOPub message.
Send = Callable[[str, dict[str, Any]], None]

# display.<kind> -> MIME type, and the text/plain shown where the type cannot be.
MIME_TYPES = {
    "text": "text/plain",
    "html": "text/html",
    "markdown": "text/markdown",
    "latex": "text/latex",
    "svg": "image/svg+xml",
    "png": "image/png",
    "json": "application/json",
}
PLAIN_FALLBACKS = {"html": "[HTML]", "svg": "[SVG image]", "png": "[PNG image]"}
# MIME types whose data is binary, sent base64-encoded as Jupyter requires.
BINARY_MIME_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}


class Display:
    """Sends what Lua displays through `send`; keeps pager payloads for the reply."""

    def __init__(self, send: Send) -> None:
        self.send = send
        self.enabled = True
        self.payloads: list[dict[str, Any]] = []

    def register(self, vm: LuaVM) -> None:
        vm.register_host_function("display", self.display)
        vm.register_host_function("clear_output", self.clear_output)
        vm.register_host_function("page", self.page)
        vm.register_host_function("describe", describe)

    def begin(self, enabled: bool = True) -> None:
        """Starts an execution: output is sent only if `enabled` (not silent)."""
        self.enabled = enabled
        self.payloads = []

    # -- host functions

    def display(self, kind: str, data: Any, options: LuaTable | None = None) -> str | None:
        """display_data (or update_display_data) for display.<kind>; returns the display id."""
        opts = _options(options)
        try:
            bundle = clean_bundle(mime_bundle(kind, data))
        except RefusedOutput as e:
            raise HostCallError(str(e)) from None
        display_id = opts.get("id")
        if display_id is True:
            display_id = uuid.uuid4().hex
        elif display_id is not None:
            display_id = _text(display_id, "display id")
        update = bool(opts.get("update"))
        if update and display_id is None:
            raise HostCallError("an update needs a display id")
        metadata = to_json(opts.get("metadata")) if opts.get("metadata") is not None else {}
        if not isinstance(metadata, dict):
            raise HostCallError("metadata must be a table of fields")
        content: dict[str, Any] = {"data": bundle, "metadata": metadata, "transient": {}}
        if display_id is not None:
            content["transient"]["display_id"] = display_id
        if self.enabled:
            self.send("update_display_data" if update else "display_data", content)
        return display_id

    def clear_output(self, wait: bool = False) -> None:
        if self.enabled:
            self.send("clear_output", {"wait": bool(wait)})

    def page(self, text: str | bytes) -> None:
        """The pager payload of the execute_reply."""
        if self.enabled:
            self.payloads.append({"source": "page", "data": {"text/plain": _text(text, "page text")}, "start": 0})


def describe(name: Any = None, facts: Any = None) -> str:
    """help(x)'s text, the same as Shift-Tab's (inspect.py; imported on first use)."""
    from .inspect import help_text

    return help_text(name, facts)


def mime_bundle(kind: str, data: Any) -> dict[str, Any]:
    """The `data` field of display_data for display.<kind>(data)."""
    if kind == "data":
        return _bundle_from_table(data)
    mime = MIME_TYPES.get(kind)
    if mime is None:
        raise HostCallError(f"unknown display kind '{kind}'")
    if kind == "json":
        value = json.loads(_text(data, "JSON text")) if isinstance(data, (str, bytes)) else to_json(data)
        return {mime: value, "text/plain": json.dumps(value, indent=2, ensure_ascii=False)}
    if kind == "png":
        return {mime: _base64(data), "text/plain": PLAIN_FALLBACKS[kind]}
    text = _text(data, f"display.{kind} data")
    bundle = {mime: text}
    bundle.setdefault("text/plain", PLAIN_FALLBACKS.get(kind, text))
    return bundle


def _bundle_from_table(data: Any) -> dict[str, Any]:
    if not isinstance(data, LuaTable):
        raise HostCallError("display.data needs a table of MIME type = data")
    bundle: dict[str, Any] = {}
    for key, value in data.pairs:
        mime = _text(key, "MIME type")
        if "/" not in mime:
            raise HostCallError(f"'{mime}' is not a MIME type")
        try:
            check_type(mime)  # before its data is read: rich_output.py
        except RefusedOutput as e:
            raise HostCallError(str(e)) from None
        if mime in BINARY_MIME_TYPES:
            bundle[mime] = _base64(value)
        elif mime == "application/json" or mime.endswith("+json"):
            bundle[mime] = json.loads(_text(value, mime)) if isinstance(value, (str, bytes)) else to_json(value)
        else:
            bundle[mime] = _text(value, mime)
    if not bundle:
        raise HostCallError("display.data needs at least one MIME type")
    return bundle


def to_json(value: Any) -> Any:
    """A Lua value as JSON: sequences become arrays, other tables objects."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise HostCallError(f"{value} cannot be shown as JSON")
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, LuaTable):
        keys = [k for k, _ in value.pairs]
        if keys and all(type(k) is int for k in keys) and sorted(keys) == list(range(1, len(keys) + 1)):
            items = value.to_dict()
            return [to_json(items[i]) for i in range(1, len(keys) + 1)]
        return {_json_key(k): to_json(v) for k, v in value.pairs}
    if isinstance(value, Cycle):
        raise HostCallError("a table that contains itself cannot be shown as JSON")
    if isinstance(value, Opaque):
        raise HostCallError(f"a {value.lua_type} cannot be shown as JSON")
    if isinstance(value, Truncated):
        raise HostCallError("a table too large or too deeply nested cannot be shown as JSON")
    raise HostCallError(f"a {type(value).__name__} cannot be shown as JSON")


def _json_key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, (int, float)):
        return repr(key)
    if isinstance(key, (str, bytes)):
        return _text(key, "key")
    raise HostCallError("a table key that is a table cannot be shown as JSON")


def _options(options: Any) -> dict[str, Any]:
    if options is None:
        return {}
    if not isinstance(options, LuaTable):
        raise HostCallError("options must be a table")
    return {_text(k, "option name") if isinstance(k, (str, bytes)) else k: v for k, v in options.pairs}


def _text(value: Any, what: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise HostCallError(f"{what} must be a string")


def _base64(value: Any) -> str:
    raw = value.encode("utf-8") if isinstance(value, str) else value
    if not isinstance(raw, bytes):
        raise HostCallError("image data must be a string of bytes")
    return base64.b64encode(raw).decode("ascii")
