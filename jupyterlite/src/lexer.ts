// Lua tokens on the host side, as lua_wasm_kernel/lexer.py: whether the
// cursor sits in a string or comment (completion), which call it is in
// (inspection) and how many blocks are open (is_complete's indent). The VM's
// `load` decides validity. Positions here are JavaScript string indexes.

const TOKEN = new RegExp(
  [
    '(?<ws>\\s+)',
    '|(?<comment>--\\[(?<ceq>=*)\\[[\\s\\S]*?(?:\\]\\k<ceq>\\]|(?![\\s\\S]))|--[^\\n]*)',
    '|(?<string>\\[(?<seq>=*)\\[[\\s\\S]*?(?:\\]\\k<seq>\\]|(?![\\s\\S]))',
    '|"(?:[^"\\\\\\n]|\\\\[\\s\\S])*"?|\'(?:[^\'\\\\\\n]|\\\\[\\s\\S])*\'?)',
    '|(?<name>[A-Za-z_][A-Za-z0-9_]*)',
    '|(?<number>0[xX][0-9a-fA-F.]*(?:[pP][+-]?[0-9]+)?|(?:[0-9]+\\.?[0-9]*|\\.[0-9]+)(?:[eE][+-]?[0-9]+)?)',
    '|(?<op>\\.\\.\\.|\\.\\.|==|~=|<=|>=|<<|>>|\\/\\/|::|[\\s\\S])'
  ].join(''),
  'g'
);

const KEYWORDS = new Set(
  'and break do else elseif end false for function goto if in local nil not or repeat return then true until while'.split(' ')
);
// `while`/`for` open with their `do`, `if`/`elseif` with their `then`; `elseif` closes what `then` opened.
const OPENERS = new Set(['function', 'do', 'then', 'repeat', '(', '{', '[']);
const CLOSERS = new Set(['end', 'until', 'elseif', ')', '}', ']']);
const LONG_COMMENT = /^--\[(=*)\[/;

export interface IToken {
  kind: 'comment' | 'string' | 'name' | 'keyword' | 'number' | 'op';
  text: string;
  start: number;
  end: number;
}

/** The tokens of `code`, whitespace left out; never fails on bad input. */
export function* tokens(code: string): Generator<IToken> {
  for (const m of code.matchAll(TOKEN)) {
    const g = m.groups ?? {};
    if (g.ws !== undefined) {
      continue;
    }
    let kind: IToken['kind'];
    if (g.comment !== undefined) {
      kind = 'comment';
    } else if (g.string !== undefined) {
      kind = 'string';
    } else if (g.name !== undefined) {
      kind = KEYWORDS.has(g.name) ? 'keyword' : 'name';
    } else if (g.number !== undefined) {
      kind = 'number';
    } else {
      kind = 'op';
    }
    yield { kind, text: m[0], start: m.index!, end: m.index! + m[0].length };
  }
}

/** False for a string or comment cut off by the end of the code. */
function closed(tok: IToken): boolean {
  const t = tok.text;
  if (tok.kind === 'string') {
    if (t.startsWith('[')) {
      const level = t.indexOf('[', 1) + 1;
      return t.length >= 2 * level && t.endsWith(']' + '='.repeat(level - 2) + ']');
    }
    return t.length >= 2 && t[t.length - 1] === t[0] && !escapedEnd(t);
  }
  if (tok.kind === 'comment') {
    const opening = LONG_COMMENT.exec(t);
    if (opening) {
      const close = ']' + opening[1] + ']';
      return t.length >= opening[0].length + close.length && t.endsWith(close);
    }
  }
  return true;
}

function escapedEnd(t: string): boolean {
  const body = t.slice(0, -1);
  return (body.length - body.replace(/\\+$/, '').length) % 2 === 1;
}

/** Whether `pos` (a cursor, between characters) is inside a string or comment. */
export function inStringOrComment(code: string, pos: number): boolean {
  for (const tok of tokens(code.slice(0, pos))) {
    if ((tok.kind === 'string' || tok.kind === 'comment') && tok.end === pos) {
      const lineComment = tok.kind === 'comment' && !LONG_COMMENT.test(tok.text);
      return !closed(tok) || lineComment;
    }
  }
  return false;
}

/** The position of the innermost `(` still open at `pos`, or null. */
export function openCall(code: string, pos: number): number | null {
  const stack: number[] = [];
  for (const tok of tokens(code.slice(0, pos))) {
    if (tok.text === '(' && tok.kind === 'op') {
      stack.push(tok.start);
    } else if (tok.text === ')' && tok.kind === 'op' && stack.length) {
      stack.pop();
    }
  }
  return stack.length ? stack[stack.length - 1] : null;
}

/** How many blocks and brackets are open at the end of `code`. */
export function openBlocks(code: string): number {
  let depth = 0;
  for (const tok of tokens(code)) {
    if (tok.kind === 'keyword' || tok.kind === 'op') {
      if (OPENERS.has(tok.text)) {
        depth += 1;
      } else if (CLOSERS.has(tok.text)) {
        depth = Math.max(0, depth - 1);
      }
    }
  }
  return depth;
}
