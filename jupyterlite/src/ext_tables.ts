// External tables: the host store behind Lua's ext.table(name) (docs/ABI.md,
// "External tables"), the mirror of lua_wasm_kernel/ext_tables.py. Keys and
// values are kept as the bytes the engine sent; a key's bytes, as a binary
// string, index a Map (insertion order, as the Python dict). Persistence
// (IndexedDB) is ext_storage.ts's job: it loads tables with load() and saves
// what takeChanges() returns after each cell.

import { EXT_TABLE_NAME_SIZE_MAX_BYTES, Tag } from './abi';
import { LuaValue, decode, utf8 } from './format';
import { HostCallError } from './host_calls';
import { HostMemory } from './host_memory';

/** Results below zero (src/ffi.zig). */
export const NO_TABLE = -1;
export const FAILED = -2;
export const INVALID_KEY = -3;

const KEY_TAGS = new Set<number>([Tag.BOOLEAN, Tag.INTEGER, Tag.FLOAT, Tag.STRING]);
const VALUE_TAGS_MAX = Tag.TABLE;

/** Bytes as a binary string (one char per byte): a Map key. */
export function bytesKey(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 8192) {
    s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return s;
}

export function keyBytes(key: string): Uint8Array {
  const out = new Uint8Array(key.length);
  for (let i = 0; i < key.length; i++) {
    out[i] = key.charCodeAt(i);
  }
  return out;
}

function intKey(n: number): string {
  const view = new DataView(new ArrayBuffer(9));
  view.setUint8(0, Tag.INTEGER);
  view.setBigInt64(1, BigInt(n), true);
  return bytesKey(new Uint8Array(view.buffer));
}

export class ExtTable {
  items = new Map<string, Uint8Array>();
  live = true;
  dirty = false;
  inserts = 0;
  private order: string[] | null = null;
  private orderAt = -1;
  private positions: Map<string, number> | null = null;
  private border = 0;

  constructor(
    readonly name: string, // the name's bytes as a binary string
    public id: number
  ) {}

  keyOrder(): string[] {
    if (this.order === null || this.orderAt !== this.inserts) {
      this.order = [...this.items.keys()];
      this.orderAt = this.inserts;
      this.positions = null;
    }
    return this.order;
  }

  position(key: string): number | undefined {
    const order = this.keyOrder();
    if (this.positions === null) {
      this.positions = new Map(order.map((k, i) => [k, i]));
    }
    return this.positions.get(key);
  }

  /** A border, as Lua's # gives: n with t[n] ~= nil (or n == 0) and t[n+1] == nil. */
  length(): number {
    const items = this.items;
    const n = this.border;
    for (const guess of [n, n + 1]) {
      if ((guess === 0 || items.has(intKey(guess))) && !items.has(intKey(guess + 1))) {
        this.border = guess;
        return guess;
      }
    }
    if (!items.has(intKey(1))) {
      this.border = 0;
      return 0;
    }
    // luaH_getn's hash_search: double j until t[j] is nil, then bisect.
    let i = 1;
    let j = 2;
    while (items.has(intKey(j))) {
      i = j;
      if (j > Number.MAX_SAFE_INTEGER / 2) {
        let k = 1; // past exact doubles: a linear search, as Lua does on overflow
        while (items.has(intKey(k + 1))) {
          k += 1;
        }
        this.border = k;
        return k;
      }
      j *= 2;
    }
    while (j - i > 1) {
      const m = Math.floor((i + j) / 2);
      if (items.has(intKey(m))) {
        i = m;
      } else {
        j = m;
      }
    }
    this.border = i;
    return i;
  }
}

/** A table as stored: the name's bytes and its items' bytes. */
export interface IStoredTable {
  name: Uint8Array;
  items: Array<[Uint8Array, Uint8Array]>;
}

export class ExtStore {
  readonly tables = new Map<string, ExtTable>(); // live tables by name
  readonly byId = new Map<number, ExtTable>();
  private byName = new Map<string, ExtTable>(); // every table in byId, live or not
  private nextId = 1;
  private dropped = new Set<string>();

  /** Puts a stored table in place (not marked changed); refuses malformed bytes. */
  load(stored: IStoredTable): void {
    const name = checkName(stored.name);
    const items = new Map<string, Uint8Array>();
    for (const [k, v] of stored.items) {
      checkStoredKey(k);
      checkStoredValue(v);
      items.set(bytesKey(k), v);
    }
    const table = this.byNameAny(name) ?? this.newTable(name);
    table.items = items;
    table.inserts += 1;
    table.live = true;
    this.tables.set(name, table);
  }

  /** Gives the names these ids (a restored memory image's proxies hold them). */
  rebind(ids: Array<[number, Uint8Array]>): void {
    const byName = new Map([...this.byId.values()].map(t => [t.name, t]));
    this.byId.clear();
    for (const [id, rawName] of ids) {
      const name = bytesKey(rawName);
      let table = byName.get(name);
      byName.delete(name);
      if (table === undefined) {
        table = new ExtTable(name, id);
        table.live = false;
      }
      table.id = id;
      this.byId.set(id, table);
    }
    let maxId = 0; // a loop: spreading many ids into Math.max overflows the stack
    for (const id of this.byId.keys()) {
      maxId = Math.max(maxId, id);
    }
    this.nextId = maxId + 1;
    for (const table of byName.values()) {
      table.id = this.nextId++;
      this.byId.set(table.id, table);
    }
    this.byName = new Map([...this.byId.values()].map(t => [t.name, t]));
  }

  ids(): Array<[number, Uint8Array]> {
    return [...this.byId.entries()].map(([id, t]) => [id, keyBytes(t.name)]);
  }

  /** The tables changed and the names dropped since the last call. */
  takeChanges(): { changed: IStoredTable[]; dropped: Uint8Array[] } {
    const changed: IStoredTable[] = [];
    for (const t of this.tables.values()) {
      if (t.dirty) {
        t.dirty = false;
        changed.push({ name: keyBytes(t.name), items: [...t.items].map(([k, v]) => [keyBytes(k), v]) });
      }
    }
    const dropped = [...this.dropped].filter(n => !this.tables.has(n)).map(keyBytes);
    this.dropped.clear();
    return { changed, dropped };
  }

  // -- host functions (lua_wasm.ext.*)

  open(name: LuaValue): number {
    const key = checkName(name);
    let table = this.tables.get(key);
    if (table === undefined) {
      table = this.byNameAny(key) ?? this.newTable(key);
      this.revive(table);
    }
    return table.id;
  }

  names(): Uint8Array[] {
    return [...this.tables.keys()].sort().map(keyBytes);
  }

  drop(name: LuaValue): boolean {
    const key = checkName(name);
    const table = this.tables.get(key);
    if (table === undefined) {
      return false;
    }
    this.tables.delete(key);
    table.items = new Map();
    table.live = false;
    table.inserts += 1;
    table.dirty = false;
    this.dropped.add(key);
    return true;
  }

  // -- the imports: every range checked against memory (-2 otherwise); nothing kept between calls

  get(mem: HostMemory, id: number, keyPtr: number, keyLen: number, dstPtr: number, dstCap: number): number {
    const spans = checkedSpans(mem, keyPtr, keyLen, dstPtr, dstCap);
    if (spans === null) {
      return FAILED;
    }
    const table = this.byId.get(id >>> 0);
    if (table === undefined) {
      return NO_TABLE;
    }
    const value = table.items.get(bytesKey(mem.read(keyPtr, keyLen)));
    if (value === undefined) {
      return 0;
    }
    if (value.length <= spans[1]) {
      mem.write(spans[0], value);
    }
    return value.length;
  }

  set(mem: HostMemory, id: number, keyPtr: number, keyLen: number, valuePtr: number, valueLen: number): number {
    if (checkedSpans(mem, keyPtr, keyLen, valuePtr, valueLen) === null) {
      return FAILED;
    }
    const table = this.byId.get(id >>> 0);
    if (table === undefined) {
      return NO_TABLE;
    }
    const key = bytesKey(mem.read(keyPtr, keyLen));
    if (valueLen >>> 0) {
      const before = table.items.size;
      table.items.set(key, mem.read(valuePtr, valueLen));
      if (table.items.size !== before) {
        table.inserts += 1;
      }
    } else {
      table.items.delete(key);
    }
    table.dirty = true;
    if (!table.live) {
      this.revive(table);
    }
    return 0;
  }

  len(id: number): number {
    const table = this.byId.get(id >>> 0);
    return table === undefined ? NO_TABLE : table.length();
  }

  next(mem: HostMemory, id: number, keyPtr: number, keyLen: number, dstPtr: number, dstCap: number): number {
    const spans = checkedSpans(mem, keyPtr, keyLen, dstPtr, dstCap);
    if (spans === null) {
      return FAILED;
    }
    const table = this.byId.get(id >>> 0);
    if (table === undefined) {
      return NO_TABLE;
    }
    let at = 0;
    if (keyLen >>> 0) {
      const position = table.position(bytesKey(mem.read(keyPtr, keyLen)));
      if (position === undefined) {
        return INVALID_KEY;
      }
      at = position + 1;
    }
    const order = table.keyOrder();
    for (; at < order.length; at++) {
      const value = table.items.get(order[at]);
      if (value !== undefined) {
        const key = keyBytes(order[at]);
        const n = key.length + value.length;
        if (n <= spans[1]) {
          mem.write(spans[0], key);
          mem.write(spans[0] + key.length, value);
        }
        return n;
      }
    }
    return 0;
  }

  // -- internals

  private newTable(name: string): ExtTable {
    const table = new ExtTable(name, this.nextId++);
    this.byId.set(table.id, table);
    this.byName.set(name, table);
    return table;
  }

  private byNameAny(name: string): ExtTable | undefined {
    return this.tables.get(name) ?? this.byName.get(name); // a map: opening n tables is not n² steps
  }

  private revive(table: ExtTable): void {
    table.live = true;
    table.dirty = true;
    this.tables.set(table.name, table);
    this.dropped.delete(table.name);
  }
}

/** The destination span as u32s, or null when either range passes the end of memory. */
function checkedSpans(mem: HostMemory, aPtr: number, aLen: number, bPtr: number, bLen: number): [number, number] | null {
  const size = mem.size;
  const ap = aPtr >>> 0;
  const al = aLen >>> 0;
  const bp = bPtr >>> 0;
  const bl = bLen >>> 0;
  if (ap + al > size || bp + bl > size) {
    return null;
  }
  return [bp, bl];
}

function checkName(name: LuaValue): string {
  let bytes: Uint8Array;
  if (typeof name === 'string') {
    bytes = utf8(name);
  } else if (name instanceof Uint8Array) {
    bytes = name;
  } else {
    throw new HostCallError(`a table name is a string, not ${describeType(name)}`);
  }
  if (bytes.length === 0 || bytes.length > EXT_TABLE_NAME_SIZE_MAX_BYTES) {
    throw new HostCallError(`a table name is 1 to ${EXT_TABLE_NAME_SIZE_MAX_BYTES} bytes long`);
  }
  return bytesKey(bytes);
}

function describeType(v: LuaValue): string {
  if (v === null) {
    return 'nil';
  }
  if (typeof v === 'bigint' || typeof v === 'number') {
    return 'number';
  }
  return typeof v === 'object' ? 'table' : typeof v;
}

function checkStoredKey(bytes: Uint8Array): void {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0 || !KEY_TAGS.has(bytes[0])) {
    throw new RangeError('a stored external-table key is malformed');
  }
  decode(bytes);
}

function checkStoredValue(bytes: Uint8Array): void {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0 || bytes[0] > VALUE_TAGS_MAX) {
    throw new RangeError('a stored external-table value is malformed');
  }
  decode(bytes);
}
