// inspect_request and help(x), as lua_wasm_kernel/inspect.py: what a name or
// a value is. Standard functions get their signature and description
// (stdlib_docs.ts, from the same JSON as the Python kernel's), user functions
// their parameters and where they were defined (`[cell N]:line`) and, at
// detail_level 1, their source, kept by chunk name. The facts come from
// lua_wasm_kernel/lua/introspect.lua's `inspect` and `info`, run in the VM.

import { jsIndex } from './cursor';
import { LuaTable, LuaValue, lossyText } from './format';
import { inStringOrComment, openCall } from './lexer';
import type { StdlibDocs } from './stdlib_docs';

export interface IInspectReply {
  status: 'ok';
  found: boolean;
  data: Record<string, string>;
  metadata: Record<string, never>;
}

const NAME_BEFORE = /[A-Za-z_]\w*(?:[.:][A-Za-z_]\w*)*$/;
const WORD_AFTER = /\w*/y;
const LOOKBEHIND_CHARS = 512;
// Python's str.splitlines: the line boundaries inspect.py cuts a source at.
const LINE_BREAK = /\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/;

export function notFound(): IInspectReply {
  return { status: 'ok', found: false, data: {}, metadata: {} };
}

/**
 * The content of an inspect_reply; `cursor` in code points, `lookup` runs
 * introspect.lua's inspect on a path, `sources` maps chunk names to cell code.
 */
export function inspect(
  code: string,
  cursor: number,
  detailLevel: number,
  sources: Map<string, string>,
  docs: StdlibDocs,
  lookup: (path: string) => LuaValue
): IInspectReply {
  const path = nameAt(code, jsIndex(code, Math.max(0, cursor)));
  if (path === null) {
    return notFound();
  }
  const text = describe(path, lookup(path), detailLevel, sources, docs);
  if (text === null) {
    return notFound();
  }
  return { status: 'ok', found: true, data: { 'text/plain': text }, metadata: {} };
}

/** The dotted name under the cursor (a JavaScript index), else the function of the call it is in. */
export function nameAt(code: string, cursor: number): string | null {
  if (inStringOrComment(code, cursor)) {
    return null;
  }
  WORD_AFTER.lastIndex = cursor;
  const wordEnd = cursor + (WORD_AFTER.exec(code)?.[0].length ?? 0);
  let name = nameEndingAt(code, wordEnd);
  if (name === null) {
    const paren = openCall(code, cursor);
    if (paren !== null) {
      name = nameEndingAt(code, code.slice(0, paren).trimEnd().length);
    }
  }
  return name;
}

function nameEndingAt(code: string, end: number): string | null {
  const before = code.slice(Math.max(0, end - LOOKBEHIND_CHARS), end);
  const m = NAME_BEFORE.exec(before);
  if (m === null) {
    return null;
  }
  const lead = before.slice(0, m.index);
  if (((lead.endsWith('.') || lead.endsWith(':')) && !lead.endsWith('..')) || /\d$/.test(lead)) {
    return null;
  }
  return m[0];
}

/** help(x)'s text: `name` (a string or nil) and `facts` (introspect.lua's M.info) of x. */
export function helpText(name: LuaValue, facts: LuaValue, docs: StdlibDocs): string {
  const given = typeof name === 'string' ? name : name instanceof Uint8Array ? lossyText(name) : null;
  const text = describe(given ?? '', facts, 0, new Map(), docs);
  if (text !== null) {
    return text;
  }
  if (given) {
    return `${given} is nil: nothing has that name.`;
  }
  return 'help got nil: the value has none (an undefined name is nil).\n' +
    'To look a name up, give it as a string: help("string.format").';
}

function text(value: LuaValue | undefined): string {
  return value instanceof Uint8Array ? lossyText(value) : String(value);
}

/** The text about the value at `path` from its facts (a table from introspect.lua), or null. */
export function describe(
  path: string,
  facts: LuaValue,
  detailLevel: number,
  sources: Map<string, string>,
  docs: StdlibDocs
): string | null {
  const info = new Map<string, LuaValue>();
  if (facts instanceof LuaTable) {
    for (const [k, v] of facts.pairs) {
      if (typeof k === 'string') {
        info.set(k, v);
      }
    }
  }
  const std = info.get('std');
  const dotted = path.replaceAll(':', '.');
  // Functions are known by identity (std); a path names docs only for values
  // such as math.pi, so a user's function called `select` is not the manual's.
  const names = info.get('type') === 'function' ? [std] : [std, dotted];
  for (const name of names) {
    const doc = typeof name === 'string' && name ? docs.lookup(name) : null;
    if (doc !== null && typeof name === 'string') {
      const [signature, description] = doc;
      const alias = path && name !== path && name !== dotted ? `${path} is ${name}\n\n` : '';
      const value = info.has('repr') ? `\n\nValue: ${text(info.get('repr'))}` : '';
      return `${alias}${signature}\n\n${description}${value}\n\nLua 5.4 manual: ${docs.manualLink(name)}`;
    }
  }
  if (info.size === 0) {
    return null;
  }
  if (info.get('type') !== 'function') {
    const lines = [`Type:  ${text(info.get('type'))}`];
    if (info.has('repr')) {
      lines.push(`Value: ${text(info.get('repr'))}`);
    }
    return lines.join('\n');
  }
  return describeFunction(path, info, detailLevel, sources);
}

function describeFunction(path: string, info: Map<string, LuaValue>, detailLevel: number, sources: Map<string, string>): string {
  if (info.get('what') === 'C') {
    return `${path || 'this'}: a C function`;
  }
  const given = info.get('params');
  let params = (typeof given === 'string' ? given : '').split(', ').filter(p => p);
  if (path.includes(':') && params[0] === 'self') {
    params = params.slice(1); // called as a method, self is implicit
  }
  if (info.get('isvararg')) {
    params.push('...');
  }
  const lines = [`function ${path}(${params.join(', ')})`];
  const first = Number(info.get('linedefined') ?? 0);
  const last = Number(info.get('lastlinedefined') ?? 0);
  const where = info.has('short_src') ? text(info.get('short_src')) : '?';
  lines.push(`Defined at ${where}:${first}` + (last > first ? `-${last}` : ''));
  if (detailLevel >= 1) {
    const source = sourceOf(info.get('source') ?? '', sources);
    if (source !== null && first > 0) {
      lines.push('', 'Source:', splitLines(source).slice(first - 1, last).join('\n'));
    }
  }
  return lines.join('\n');
}

/** The code of a chunk: a cell's, kept by the kernel, or a load()ed string. */
function sourceOf(source: LuaValue, sources: Map<string, string>): string | null {
  if (typeof source !== 'string') {
    return null;
  }
  if (source.startsWith('=')) {
    return sources.get(source.slice(1)) ?? null;
  }
  if (source.startsWith('@')) {
    return null; // a file: the sandbox has none
  }
  return source;
}

/** Python's str.splitlines(): no empty last line after a final break. */
function splitLines(text: string): string[] {
  const lines = text.split(LINE_BREAK);
  if (lines.length && lines[lines.length - 1] === '') {
    lines.pop();
  }
  return lines;
}
