// Rich output from Lua: the host functions behind the display module
// (lua_wasm_kernel/lua/display.lua), the mirror of lua_wasm_kernel/display.py.
// display sends display_data or update_display_data, clear_output sends
// clear_output, page collects a pager payload (help(x)'s `describe` is
// inspect.ts's helpText, registered by the worker with the docs).

import { Cycle, LuaTable, LuaValue, Opaque, Truncated } from './format';
import { HostCallError, HostFunction } from './host_calls';

export type Send = (msgType: string, content: Record<string, any>) => void;

// Maps, not object literals: a kind from Lua ("__proto__", "constructor") must not find Object's own fields.
const MIME_TYPES = new Map<string, string>([
  ['text', 'text/plain'],
  ['html', 'text/html'],
  ['markdown', 'text/markdown'],
  ['latex', 'text/latex'],
  ['svg', 'image/svg+xml'],
  ['png', 'image/png'],
  ['json', 'application/json']
]);
const PLAIN_FALLBACKS = new Map<string, string>([
  ['html', '[HTML]'],
  ['svg', '[SVG image]'],
  ['png', '[PNG image]']
]);
const BINARY_MIME_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'application/pdf']);

export class Display {
  enabled = true;
  payloads: Array<Record<string, any>> = [];
  /** Why a MIME type may not be sent (rich_output.json, set by the worker), or null: a refusal is Lua's error, as in Python. */
  refusal: (mime: string) => string | null = () => null;

  constructor(private readonly send: Send) {}

  functions(): Record<string, HostFunction> {
    return {
      display: (kind, data, options) => this.display(kind, data, options ?? null),
      clear_output: wait => this.clearOutput(wait === true),
      page: text => this.page(text)
    };
  }

  begin(enabled: boolean): void {
    this.enabled = enabled;
    this.payloads = [];
  }

  display(kind: LuaValue, data: LuaValue, options: LuaValue): string | null {
    const opts = optionsOf(options);
    const bundle = mimeBundle(text(kind, 'display kind'), data);
    for (const mime of Object.keys(bundle)) {
      const why = this.refusal(mime);
      if (why !== null) {
        throw new HostCallError(why);
      }
    }
    let displayId: string | null = null;
    const id = opts.get('id');
    if (id === true) {
      displayId = randomHex(16);
    } else if (id !== undefined && id !== null) {
      displayId = text(id, 'display id');
    }
    const update = Boolean(opts.get('update'));
    if (update && displayId === null) {
      throw new HostCallError('an update needs a display id');
    }
    const metaValue = opts.get('metadata');
    const metadata = metaValue === undefined || metaValue === null ? {} : toJson(metaValue);
    if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
      throw new HostCallError('metadata must be a table of fields');
    }
    const content: Record<string, any> = { data: bundle, metadata, transient: {} };
    if (displayId !== null) {
      content.transient.display_id = displayId;
    }
    if (this.enabled) {
      this.send(update ? 'update_display_data' : 'display_data', content);
    }
    return displayId;
  }

  clearOutput(wait: boolean): null {
    if (this.enabled) {
      this.send('clear_output', { wait });
    }
    return null;
  }

  page(value: LuaValue): null {
    if (this.enabled) {
      this.payloads.push({ source: 'page', data: { 'text/plain': text(value, 'page text') }, start: 0 });
    }
    return null;
  }
}

/** The `data` field of display_data for display.<kind>(data). */
export function mimeBundle(kind: string, data: LuaValue): Record<string, any> {
  if (kind === 'data') {
    return bundleFromTable(data);
  }
  const mime = MIME_TYPES.get(kind);
  if (mime === undefined) {
    throw new HostCallError(`unknown display kind '${kind}'`);
  }
  if (kind === 'json') {
    const value = typeof data === 'string' || data instanceof Uint8Array ? parseJson(text(data, 'JSON text')) : toJson(data);
    return { [mime]: value, 'text/plain': JSON.stringify(value, null, 2) };
  }
  if (kind === 'png') {
    return { [mime]: base64(data), 'text/plain': PLAIN_FALLBACKS.get('png') };
  }
  const body = text(data, `display.${kind} data`);
  return { [mime]: body, 'text/plain': mime === 'text/plain' ? body : (PLAIN_FALLBACKS.get(kind) ?? body) };
}

function bundleFromTable(data: LuaValue): Record<string, any> {
  if (!(data instanceof LuaTable)) {
    throw new HostCallError('display.data needs a table of MIME type = data');
  }
  const bundle: Record<string, any> = {};
  for (const [key, value] of data.pairs) {
    const mime = text(key, 'MIME type');
    if (!mime.includes('/')) {
      throw new HostCallError(`'${mime}' is not a MIME type`);
    }
    if (BINARY_MIME_TYPES.has(mime)) {
      bundle[mime] = base64(value);
    } else if (mime === 'application/json' || mime.endsWith('+json')) {
      bundle[mime] = typeof value === 'string' || value instanceof Uint8Array ? parseJson(text(value, mime)) : toJson(value);
    } else {
      bundle[mime] = text(value, mime);
    }
  }
  if (Object.keys(bundle).length === 0) {
    throw new HostCallError('display.data needs at least one MIME type');
  }
  return bundle;
}

/** A Lua value as JSON: sequences become arrays, other tables objects. */
export function toJson(value: LuaValue): any {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') {
    return value;
  }
  if (typeof value === 'bigint') {
    return Number(value);
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) {
      throw new HostCallError(`${value} cannot be shown as JSON`);
    }
    return value;
  }
  if (value instanceof Uint8Array) {
    return new TextDecoder().decode(value);
  }
  if (value instanceof LuaTable) {
    const keys = value.pairs.map(([k]) => k);
    const isSequence =
      keys.length > 0 &&
      keys.every(k => typeof k === 'bigint') &&
      [...(keys as bigint[])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).every((k, i) => k === BigInt(i + 1));
    if (isSequence) {
      const items = new Map(value.pairs.map(([k, v]) => [k as bigint, v]));
      return keys.map((_, i) => toJson(items.get(BigInt(i + 1)) ?? null));
    }
    const out: Record<string, any> = {};
    for (const [k, v] of value.pairs) {
      // defined, not assigned: a key "__proto__" is a field as in Python's dict, not the prototype
      Object.defineProperty(out, jsonKey(k), { value: toJson(v), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  if (value instanceof Cycle) {
    throw new HostCallError('a table that contains itself cannot be shown as JSON');
  }
  if (value instanceof Opaque) {
    throw new HostCallError(`a ${value.luaType} cannot be shown as JSON`);
  }
  if (value instanceof Truncated) {
    throw new HostCallError('a table too large or too deeply nested cannot be shown as JSON');
  }
  throw new HostCallError('this value cannot be shown as JSON');
}

function jsonKey(key: LuaValue): string {
  if (typeof key === 'boolean') {
    return key ? 'true' : 'false';
  }
  if (typeof key === 'bigint' || typeof key === 'number') {
    return String(key);
  }
  if (typeof key === 'string' || key instanceof Uint8Array) {
    return text(key, 'key');
  }
  throw new HostCallError('a table key that is a table cannot be shown as JSON');
}

function parseJson(source: string): any {
  try {
    return JSON.parse(source);
  } catch (e) {
    throw new HostCallError(`invalid JSON: ${e instanceof Error ? e.message : e}`);
  }
}

function optionsOf(options: LuaValue): Map<LuaValue, LuaValue> {
  if (options === null) {
    return new Map();
  }
  if (!(options instanceof LuaTable)) {
    throw new HostCallError('options must be a table');
  }
  return new Map(options.pairs.map(([k, v]) => [k instanceof Uint8Array ? text(k, 'option name') : k, v]));
}

function text(value: LuaValue, what: string): string {
  if (typeof value === 'string') {
    return value;
  }
  if (value instanceof Uint8Array) {
    return new TextDecoder().decode(value);
  }
  if (typeof value === 'bigint' || typeof value === 'number') {
    return String(value);
  }
  throw new HostCallError(`${what} must be a string`);
}

/** `bytes` random bytes as hex, as Python's uuid4().hex: crypto.randomUUID exists only in secure contexts. */
function randomHex(bytes: number): string {
  const raw = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(raw, b => b.toString(16).padStart(2, '0')).join('');
}

function base64(value: LuaValue): string {
  const raw = typeof value === 'string' ? new TextEncoder().encode(value) : value;
  if (!(raw instanceof Uint8Array)) {
    throw new HostCallError('image data must be a string of bytes');
  }
  let s = '';
  for (let i = 0; i < raw.length; i += 8192) {
    s += String.fromCharCode(...raw.subarray(i, i + 8192));
  }
  return btoa(s);
}
