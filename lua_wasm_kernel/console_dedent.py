"""Dedent for `jupyter console`: `end` typed on its own line moves back to its block's indent.

Why the console needs this: on Enter, jupyter_console asks the kernel whether
the cell is complete (is_complete_request) and, if not, inserts the reply's
`indent` before the *next* line. Nothing ever re-indents the line just typed,
and is_complete_reply has no field for it, so a closing `end` keeps the
indent the console put in front of it for the block's body. Editors in
JupyterLab dedent such "electric" lines themselves; jupyter_console has no
such hook and no setting for key bindings.

`install()`, called from a jupyter_console_config.py (README, "Using it"),
adds an Enter key binding for Lua kernels: a last line holding only `end`,
`until`, `else`, `elseif ...`, `}` or `)` is first re-indented to its block's
opening indent (INDENT_UNIT per open block, as is_complete.py counts them),
then Enter does what it always does.
"""
from __future__ import annotations

import logging
import re
from typing import Any, Callable

from .is_complete import INDENT_UNIT
from .lexer import open_blocks

log = logging.getLogger(__name__)

# A line that closes (or reopens) the block above it: it belongs at the block's own indent.
_CLOSING_LINE = re.compile(r"^([ \t]*)((?:end|until|else|elseif)\b.*|[})\]].*)$")
_MARK = "_lua_wasm_dedent"


def dedented(text: str) -> str | None:
    """`text` with its last line moved to its block's indent, or None if it stays."""
    head, _, last = text.rpartition("\n")
    m = _CLOSING_LINE.match(last)
    if m is None:
        return None
    depth = open_blocks(head) if head else 0
    indent = INDENT_UNIT * max(0, depth - 1)
    if len(m.group(1)) <= len(indent):
        return None  # never push a line to the right
    line = indent + last[len(m.group(1)):]
    return f"{head}\n{line}" if "\n" in text else line


def install() -> None:
    """Makes every jupyter console for a Lua kernel dedent closing lines on Enter."""
    from jupyter_console.ptshell import ZMQTerminalInteractiveShell

    original = ZMQTerminalInteractiveShell.init_prompt_toolkit_cli
    if getattr(original, _MARK, False):
        return

    def init_prompt_toolkit_cli(shell: Any) -> None:
        original(shell)
        language = shell.kernel_info.get("language_info", {}).get("name", "")
        session = getattr(shell, "pt_cli", None)
        if language == "lua" and session is not None:
            _bind_enter(session.key_bindings)

    setattr(init_prompt_toolkit_cli, _MARK, True)
    ZMQTerminalInteractiveShell.init_prompt_toolkit_cli = init_prompt_toolkit_cli


def _bind_enter(bindings: Any) -> None:
    from prompt_toolkit.keys import Keys

    enters = [b for b in bindings.bindings if b.keys == (Keys.ControlM,)]
    if not enters:
        log.warning("lua-wasm: jupyter console has no Enter key binding to extend; no dedent")
        return
    enter = enters[-1]
    handler: Callable[[Any], Any] = enter.handler

    @bindings.add("enter", filter=enter.filter)
    def _(event: Any) -> Any:
        buffer = event.current_buffer
        document = buffer.document
        if document.on_last_line:
            new_text = dedented(document.text)
            if new_text is not None:
                buffer.text = new_text
                buffer.cursor_position = len(new_text)
        return handler(event)
