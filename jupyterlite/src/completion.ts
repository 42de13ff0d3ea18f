// complete_request's text work, as lua_wasm_kernel/complete.py: what the
// cursor follows (`a.b.` + prefix, `s:` + prefix, or a bare prefix), and the
// names the cell declares. The candidates themselves come from the VM, from
// lua_wasm_kernel/lua/introspect.lua's `complete`, the Python kernel's code.
// The cursor and the reply's positions are code points (cursor.ts).

import { charIndex, jsIndex } from './cursor';
import { inStringOrComment } from './lexer';

export const KEYWORDS = [
  'and', 'break', 'do', 'else', 'elseif', 'end', 'false', 'for', 'function', 'goto', 'if', 'in',
  'local', 'nil', 'not', 'or', 'repeat', 'return', 'then', 'true', 'until', 'while'
];

const TARGET = /(?:([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)([.:]))?([A-Za-z_]\w*)?$/;
const DECLARED =
  /\blocal[ \t]+(?:function[ \t]+)?([A-Za-z_][\w \t,]*)|\bfunction\b[\w.: \t]*\(([\w \t,]*)|\bfor[ \t]+([A-Za-z_][\w \t,]*?)[ \t]*(?:=|\bin\b)/g;
const NAME = /[A-Za-z_]\w*/g;
const LOOKBEHIND_CHARS = 512;

/** [path, separator, prefix] before the cursor (a JavaScript index), or null where nothing completes. */
export function findTarget(code: string, cursor: number): [string, string, string] | null {
  const before = code.slice(Math.max(0, cursor - LOOKBEHIND_CHARS), cursor);
  const m = TARGET.exec(before);
  if (m === null || inStringOrComment(code, cursor)) {
    return null;
  }
  const [path, sep, prefix] = [m[1] ?? '', m[2] ?? '', m[3] ?? ''];
  if (!path && !prefix) {
    return null;
  }
  const lead = before.slice(0, m.index);
  if ((lead.endsWith('.') || lead.endsWith(':')) && !lead.endsWith('..')) {
    return null; // after `f().` or `t[1].`
  }
  if (/\d$/.test(lead)) {
    return null; // inside a number such as 0x1f
  }
  return [path, sep, prefix];
}

export function declaredNames(code: string): Set<string> {
  const names = new Set<string>();
  for (const m of code.matchAll(DECLARED)) {
    const group = m[1] ?? m[2] ?? m[3] ?? '';
    for (const name of group.match(NAME) ?? []) {
      names.add(name);
    }
  }
  return names;
}

/** The complete_reply for `code`, `cursor` in code points; `lookup` asks the VM's introspect.complete. */
export async function complete(
  code: string,
  cursor: number,
  lookup: (path: string, sep: string, prefix: string) => Promise<string | null>
): Promise<{ status: 'ok'; matches: string[]; cursor_start: number; cursor_end: number; metadata: Record<string, any> }> {
  cursor = jsIndex(code, Math.max(0, cursor));
  const matches = new Map<string, string>();
  let prefix = '';
  const target = findTarget(code, cursor);
  if (target !== null) {
    const [path, sep] = target;
    prefix = target[2];
    const found = await lookup(path, sep, prefix);
    for (const line of (found ?? '').split('\n')) {
      if (line) {
        const [name, kind] = line.split('\t');
        matches.set(name, kind ?? '');
      }
    }
    if (!path) {
      for (const word of KEYWORDS) {
        if (word.startsWith(prefix) && !matches.has(word)) {
          matches.set(word, 'keyword');
        }
      }
      for (const name of declaredNames(code)) {
        if (name.startsWith(prefix) && !KEYWORDS.includes(name) && !matches.has(name)) {
          matches.set(name, 'local');
        }
      }
    }
  }
  const start = charIndex(code, cursor - prefix.length);
  const end = charIndex(code, cursor);
  const names = [...matches.keys()].sort((a, b) => {
    const x = a.toLowerCase();
    const y = b.toLowerCase();
    return x < y ? -1 : x > y ? 1 : a < b ? -1 : a > b ? 1 : 0;
  });
  return {
    status: 'ok',
    matches: names,
    cursor_start: start,
    cursor_end: end,
    metadata: {
      _jupyter_types_experimental: names.map(n => ({ start, end, text: n, type: matches.get(n) }))
    }
  };
}
