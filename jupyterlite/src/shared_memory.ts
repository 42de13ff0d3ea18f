// Shares the module's memory import: a copy of lua.wasm's bytes whose
// `env.memory` import says "shared, maximum N pages", so a cross-origin
// isolated page can instantiate the very module the Python package builds
// over a WebAssembly.Memory({shared: true}) and read and write it from the
// page's thread (docs/ABI.md, "Hosts"). The bytes are parsed as hostile:
// every length is bounds-checked, and anything unexpected is refused.

const MAGIC_AND_VERSION = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
const SECTION_IMPORT = 2;
const KIND_FUNC = 0x00;
const KIND_TABLE = 0x01;
const KIND_MEMORY = 0x02;
const KIND_GLOBAL = 0x03;
const KIND_TAG = 0x04;
const LIMITS_MIN = 0x00;
const LIMITS_MIN_MAX = 0x01;
const LIMITS_SHARED_MIN_MAX = 0x03;
const LEB_U32_BYTES_MAX = 5;
export const MEMORY_PAGES_MAX = 65536; // wasm32: 4 GiB

export class WasmPatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WasmPatchError';
  }
}

/** A cursor over untrusted bytes: every read checks the end first. */
class Cursor {
  constructor(
    readonly bytes: Uint8Array,
    public at: number,
    readonly end: number
  ) {}

  byte(): number {
    if (this.at >= this.end) {
      throw new WasmPatchError(`lua.wasm ends early at byte ${this.at}`);
    }
    return this.bytes[this.at++];
  }

  u32(): number {
    let value = 0;
    for (let i = 0; i < LEB_U32_BYTES_MAX; i++) {
      const b = this.byte();
      if (i === LEB_U32_BYTES_MAX - 1 && b > 0x0f) {
        throw new WasmPatchError(`lua.wasm has an over-long u32 at byte ${this.at - 1}`);
      }
      value += (b & 0x7f) * 2 ** (7 * i);
      if (b < 0x80) {
        return value;
      }
    }
    throw new WasmPatchError(`lua.wasm has an over-long u32 at byte ${this.at}`);
  }

  skip(n: number): void {
    if (n > this.end - this.at) {
      throw new WasmPatchError(`lua.wasm ends early: ${n} bytes at byte ${this.at}`);
    }
    this.at += n;
  }

  name(): string {
    const n = this.u32();
    const start = this.at;
    this.skip(n);
    return new TextDecoder().decode(this.bytes.subarray(start, this.at));
  }
}

export function leb128(value: number): number[] {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`${value} is not a u32`);
  }
  const out: number[] = [];
  do {
    let b = value % 128;
    value = Math.floor(value / 128);
    if (value) {
      b |= 0x80;
    }
    out.push(b);
  } while (value);
  return out;
}

/** Skips an import's type after its kind byte (limits, table, global, tag). */
function skipLimits(c: Cursor): void {
  const flags = c.byte();
  if (flags > 0x03) {
    throw new WasmPatchError(`unknown limits flags ${flags}`);
  }
  c.u32();
  if (flags & 0x01) {
    c.u32();
  }
}

/**
 * A copy of `wasm` whose `env.memory` import is shared with a maximum of
 * `maxPages` pages (the memory the host makes: min == max). The import must
 * be a plain 32-bit memory whose minimum fits in `maxPages` and whose
 * maximum, if it declares one, is at least `maxPages`; anything else throws
 * WasmPatchError and the caller keeps the unshared module.
 */
export function shareMemoryImport(wasm: Uint8Array, maxPages: number): Uint8Array<ArrayBuffer> {
  if (!Number.isInteger(maxPages) || maxPages < 1 || maxPages > MEMORY_PAGES_MAX) {
    throw new RangeError(`${maxPages} pages is not a wasm32 memory size`);
  }
  if (wasm.length < MAGIC_AND_VERSION.length || MAGIC_AND_VERSION.some((b, i) => wasm[i] !== b)) {
    throw new WasmPatchError('not a wasm module (version 1)');
  }
  const c = new Cursor(wasm, MAGIC_AND_VERSION.length, wasm.length);
  while (c.at < c.end) {
    const sectionStart = c.at;
    const id = c.byte();
    const size = c.u32();
    const bodyStart = c.at;
    c.skip(size);
    if (id !== SECTION_IMPORT) {
      continue;
    }
    const body = new Cursor(wasm, bodyStart, bodyStart + size);
    const count = body.u32();
    for (let i = 0; i < count; i++) {
      const module = body.name();
      const field = body.name();
      const kind = body.byte();
      if (kind === KIND_FUNC) {
        body.u32();
      } else if (kind === KIND_TABLE) {
        body.byte(); // reftype
        skipLimits(body);
      } else if (kind === KIND_GLOBAL) {
        body.byte(); // valtype
        body.byte(); // mutability
      } else if (kind === KIND_TAG) {
        body.byte(); // attribute
        body.u32();
      } else if (kind === KIND_MEMORY) {
        const limitsStart = body.at;
        const flags = body.byte();
        if (flags !== LIMITS_MIN && flags !== LIMITS_MIN_MAX) {
          throw new WasmPatchError(`the memory import has limits flags ${flags}: not a plain unshared 32-bit memory`);
        }
        const min = body.u32();
        const max = flags === LIMITS_MIN_MAX ? body.u32() : MEMORY_PAGES_MAX;
        if (module !== 'env' || field !== 'memory') {
          throw new WasmPatchError(`the memory import is ${module}.${field}, not env.memory`);
        }
        if (min > maxPages || max < maxPages) {
          throw new WasmPatchError(`the memory import's limits (${min}..${max} pages) do not admit ${maxPages} pages`);
        }
        const limits = [LIMITS_SHARED_MIN_MAX, ...leb128(min), ...leb128(maxPages)];
        const newSize = size - (body.at - limitsStart) + limits.length;
        const head = [id, ...leb128(newSize)];
        const out = new Uint8Array(wasm.length - (bodyStart - sectionStart) - size + head.length + newSize);
        out.set(wasm.subarray(0, sectionStart), 0);
        let at = sectionStart;
        out.set(head, at);
        at += head.length;
        out.set(wasm.subarray(bodyStart, limitsStart), at);
        at += limitsStart - bodyStart;
        out.set(limits, at);
        at += limits.length;
        out.set(wasm.subarray(body.at, wasm.length), at);
        return out;
      } else {
        throw new WasmPatchError(`unknown import kind ${kind}`);
      }
    }
    if (body.at !== body.end) {
      throw new WasmPatchError('the import section has trailing bytes');
    }
    throw new WasmPatchError('lua.wasm imports no memory');
  }
  throw new WasmPatchError('lua.wasm has no import section');
}
