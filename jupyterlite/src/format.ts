// The type-tagged value format (docs/FORMAT.md): the mirror of
// lua_wasm_kernel/serializer.py. Bytes from wasm or storage are hostile:
// decode() refuses anything malformed or nested deeper than the engine allows.

import { SERIALIZE_DEPTH_MAX, Tag } from './abi';

export class FormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FormatError';
  }
}

/** A Lua table by value: its pairs in Lua's traversal order. */
export class LuaTable {
  constructor(readonly pairs: Array<[LuaValue, LuaValue]> = []) {}
}
export class Cycle {
  constructor(readonly depth: number) {}
}
export class Opaque {
  constructor(
    readonly luaType: string,
    readonly text: string
  ) {}
}
export class Truncated {
  constructor(readonly text: string) {}
}

/** Integers decode to bigint, floats to number; strings that are UTF-8 to string, others to bytes. */
export type LuaValue =
  | null
  | boolean
  | bigint
  | number
  | string
  | Uint8Array
  | LuaTable
  | Cycle
  | Opaque
  | Truncated;

const LUA_TYPE_NAMES: Record<number, string> = { 2: 'userdata', 6: 'function', 7: 'userdata', 8: 'thread' };
const utf8Strict = new TextDecoder('utf-8', { fatal: true });
const utf8Lossy = new TextDecoder('utf-8');
const utf8Encoder = new TextEncoder();

export function utf8(text: string): Uint8Array {
  return utf8Encoder.encode(text);
}

export function lossyText(bytes: Uint8Array): string {
  return utf8Lossy.decode(bytes);
}

/** Reads values, strings and integers from one buffer, in order. */
export class Reader {
  offset = 0;
  private depth = 0;
  private view: DataView;

  constructor(readonly data: Uint8Array) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  take(n: number): Uint8Array {
    if (n < 0 || this.offset + n > this.data.length) {
      throw new FormatError(`truncated data at offset ${this.offset}: need ${n} bytes`);
    }
    const chunk = this.data.subarray(this.offset, this.offset + n);
    this.offset += n;
    return chunk;
  }

  u8(): number {
    return this.take(1)[0];
  }

  u32(): number {
    const at = this.offset;
    this.take(4);
    return this.view.getUint32(at, true);
  }

  bytes(): Uint8Array {
    return this.take(this.u32());
  }

  value(): LuaValue {
    const tag = this.u8();
    switch (tag) {
      case Tag.NIL:
        return null;
      case Tag.BOOLEAN:
        return this.u8() !== 0;
      case Tag.INTEGER: {
        const at = this.offset;
        this.take(8);
        return this.view.getBigInt64(at, true);
      }
      case Tag.FLOAT: {
        const at = this.offset;
        this.take(8);
        return this.view.getFloat64(at, true);
      }
      case Tag.STRING: {
        const raw = this.bytes();
        try {
          return utf8Strict.decode(raw);
        } catch {
          return raw.slice();
        }
      }
      case Tag.TABLE: {
        if (this.depth === SERIALIZE_DEPTH_MAX) {
          throw new FormatError(`tables nested more than ${SERIALIZE_DEPTH_MAX} levels deep at offset ${this.offset - 1}`);
        }
        const count = this.u32();
        if (count > this.data.length - this.offset) {
          throw new FormatError(`table of ${count} pairs cannot fit in the data`);
        }
        this.depth += 1;
        try {
          const pairs: Array<[LuaValue, LuaValue]> = [];
          for (let i = 0; i < count; i++) {
            const k = this.value();
            pairs.push([k, this.value()]);
          }
          return new LuaTable(pairs);
        } finally {
          this.depth -= 1;
        }
      }
      case Tag.CYCLE: {
        const depth = this.u32();
        if (depth >= this.depth) {
          throw new FormatError(`a cycle to depth ${depth} inside ${this.depth} open tables`);
        }
        return new Cycle(depth);
      }
      case Tag.OPAQUE: {
        const kind = this.u8();
        return new Opaque(LUA_TYPE_NAMES[kind] ?? String(kind), lossyText(this.bytes()));
      }
      case Tag.TRUNCATED:
        return new Truncated(lossyText(this.bytes()));
      default:
        throw new FormatError(`unknown tag 0x${tag.toString(16).padStart(2, '0')} at offset ${this.offset - 1}`);
    }
  }
}

/** One value from `data`, which must hold exactly one. */
export function decode(data: Uint8Array): LuaValue {
  const reader = new Reader(data);
  const value = reader.value();
  if (reader.offset !== data.length) {
    throw new FormatError(`${data.length - reader.offset} bytes left after the value`);
  }
  return value;
}

/** What a host function may return; encode() writes it as one value. */
export type HostValue =
  | null
  | undefined
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | LuaTable
  | HostValue[]
  | { [key: string]: HostValue };

/** Appends values in the format; refuses nesting deeper than the engine reads. */
export class Writer {
  private chunks: number[] = [];

  u8(v: number): void {
    this.chunks.push(v & 0xff);
  }

  u32(v: number): void {
    for (let i = 0; i < 4; i++) {
      this.chunks.push((v >>> (8 * i)) & 0xff);
    }
  }

  raw(bytes: Uint8Array): void {
    for (const b of bytes) {
      this.chunks.push(b);
    }
  }

  value(v: HostValue, depth = 0): void {
    if (v === null || v === undefined) {
      this.u8(Tag.NIL);
    } else if (typeof v === 'boolean') {
      this.u8(Tag.BOOLEAN);
      this.u8(v ? 1 : 0);
    } else if (typeof v === 'bigint' || (typeof v === 'number' && Number.isSafeInteger(v))) {
      const buf = new DataView(new ArrayBuffer(8));
      buf.setBigInt64(0, BigInt.asIntN(64, BigInt(v)), true);
      this.u8(Tag.INTEGER);
      this.raw(new Uint8Array(buf.buffer));
    } else if (typeof v === 'number') {
      const buf = new DataView(new ArrayBuffer(8));
      buf.setFloat64(0, v, true);
      this.u8(Tag.FLOAT);
      this.raw(new Uint8Array(buf.buffer));
    } else if (typeof v === 'string' || v instanceof Uint8Array) {
      const bytes = typeof v === 'string' ? utf8(v) : v;
      this.u8(Tag.STRING);
      this.u32(bytes.length);
      this.raw(bytes);
    } else {
      if (depth === SERIALIZE_DEPTH_MAX) {
        throw new FormatError(`tables nested more than ${SERIALIZE_DEPTH_MAX} levels deep`);
      }
      let pairs: Array<[HostValue, HostValue]>;
      if (v instanceof LuaTable) {
        pairs = v.pairs as Array<[HostValue, HostValue]>;
      } else if (Array.isArray(v)) {
        pairs = v.map((item, i) => [i + 1, item]);
      } else if (v instanceof Cycle || v instanceof Opaque || v instanceof Truncated) {
        throw new FormatError('a cycle, opaque or truncated value cannot be sent to Lua');
      } else {
        pairs = Object.entries(v);
      }
      this.u8(Tag.TABLE);
      this.u32(pairs.length);
      for (const [k, item] of pairs) {
        this.value(k, depth + 1);
        this.value(item, depth + 1);
      }
    }
  }

  bytes(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }
}

export function encode(v: HostValue): Uint8Array {
  const w = new Writer();
  w.value(v);
  return w.bytes();
}
