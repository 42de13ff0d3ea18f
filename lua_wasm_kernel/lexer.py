"""Lua tokens on the host side, for what must be decided without the VM.

Completion must know whether the cursor sits in a string or a comment,
inspection which call the cursor is in, and is_complete how many blocks are
open. A full parser is not needed: the VM's `load` decides validity.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>--\[(?P<ceq>=*)\[.*?(?:\](?P=ceq)\]|\Z) | --[^\n]*)
  | (?P<string>\[(?P<seq>=*)\[.*?(?:\](?P=seq)\]|\Z)
      | "(?:[^"\\\n]|\\.)*"? | '(?:[^'\\\n]|\\.)*'?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<number>0[xX][0-9a-fA-F.]*(?:[pP][+-]?[0-9]+)?|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
  | (?P<op>\.\.\.|\.\.|==|~=|<=|>=|<<|>>|//|::|.)
    """,
    re.VERBOSE | re.DOTALL,
)

KEYWORDS = frozenset(
    """and break do else elseif end false for function goto if in local nil not or
    repeat return then true until while""".split()
)

# What opens and closes an indentation level. `while`/`for` open with their
# `do`, `if`/`elseif` with their `then`; `elseif` closes the level `then` opened.
_OPENERS = frozenset({"function", "do", "then", "repeat", "(", "{", "["})
_CLOSERS = frozenset({"end", "until", "elseif", ")", "}", "]"})


@dataclass(frozen=True)
class Token:
    kind: str  # comment, string, name, keyword, number, op
    text: str
    start: int
    end: int

    @property
    def closed(self) -> bool:
        """False for a string or comment cut off by the end of the code."""
        t = self.text
        if self.kind == "string":
            if t.startswith("["):
                level = t.index("[", 1) + 1
                return len(t) >= 2 * level and t.endswith("]" + "=" * (level - 2) + "]")
            return len(t) >= 2 and t[-1] == t[0] and not _escaped_end(t)
        if self.kind == "comment":
            opening = _LONG_COMMENT.match(t)
            if opening:
                close = "]" + opening.group(1) + "]"
                return len(t) >= len(opening.group()) + len(close) and t.endswith(close)
        return True

    @property
    def is_line_comment(self) -> bool:
        return self.kind == "comment" and not _LONG_COMMENT.match(self.text)


_LONG_COMMENT = re.compile(r"--\[(=*)\[")


def _escaped_end(t: str) -> bool:
    """Whether the last quote of a short string is escaped (so not a close)."""
    backslashes = len(t[:-1]) - len(t[:-1].rstrip("\\"))
    return backslashes % 2 == 1


def tokens(code: str) -> Iterator[Token]:
    """The tokens of `code`, whitespace left out; never fails on bad input."""
    for m in _TOKEN.finditer(code):
        kind = m.lastgroup
        if kind in ("ceq", "seq"):  # lastgroup names the inner group of a long bracket
            kind = "comment" if m.group("comment") is not None else "string"
        if kind == "ws":
            continue
        text = m.group()
        if kind == "name" and text in KEYWORDS:
            kind = "keyword"
        yield Token(kind, text, m.start(), m.end())


def in_string_or_comment(code: str, pos: int) -> bool:
    """Whether position `pos` (a cursor, between characters) is inside a string or comment."""
    for tok in tokens(code[:pos]):
        if tok.kind in ("string", "comment") and tok.end == pos:
            # A line comment runs to the end of its line; a cut-off string is still open.
            return not tok.closed or tok.is_line_comment
    return False


def open_call(code: str, pos: int) -> int | None:
    """The position of the innermost `(` still open at `pos`, or None."""
    stack: list[int] = []
    for tok in tokens(code[:pos]):
        if tok.text == "(" and tok.kind == "op":
            stack.append(tok.start)
        elif tok.text == ")" and tok.kind == "op" and stack:
            stack.pop()
    return stack[-1] if stack else None


def open_blocks(code: str) -> int:
    """How many blocks and brackets are open at the end of `code`."""
    depth = 0
    for tok in tokens(code):
        if tok.kind in ("keyword", "op"):
            if tok.text in _OPENERS:
                depth += 1
            elif tok.text in _CLOSERS:
                depth = max(0, depth - 1)
    return depth
