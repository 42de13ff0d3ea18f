// Bounds-checked access to the VM's linear memory: every pointer and length
// from wasm goes through span() (docs/ABI.md, "Imports": u32, inside memory).
// A shared memory (a cross-origin isolated page) is read by two threads: its
// protocol words go through Atomics (loadU32, storeU32, loadU16).

/** The VM passed a pointer or length outside its memory: the instance is not trusted again. */
export class MemoryAccessError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MemoryAccessError';
  }
}

export class HostMemory {
  readonly shared: boolean;
  private readonly words: Uint32Array;
  private readonly halves: Uint16Array;

  constructor(readonly memory: WebAssembly.Memory) {
    const buffer = memory.buffer;
    this.shared = typeof SharedArrayBuffer !== 'undefined' && buffer instanceof SharedArrayBuffer;
    this.words = new Uint32Array(buffer, 0, buffer.byteLength >>> 2);
    this.halves = new Uint16Array(buffer, 0, buffer.byteLength >>> 1);
  }

  /** Bytes of linear memory (the memory never grows: min == max pages). */
  get size(): number {
    return this.memory.buffer.byteLength;
  }

  /** (ptr, len) as unsigned 32-bit values if they lie inside memory; else MemoryAccessError. */
  span(ptr: number, len: number): [number, number] {
    if (!Number.isInteger(ptr) || !Number.isInteger(len)) {
      throw new MemoryAccessError(`${ptr}, ${len} is not a 32-bit pointer and length`);
    }
    if (ptr < -(2 ** 31) || ptr > 2 ** 32 - 1 || len < -(2 ** 31) || len > 2 ** 32 - 1) {
      throw new MemoryAccessError(`${ptr}, ${len} is not a 32-bit pointer and length`);
    }
    const p = ptr >>> 0;
    const n = len >>> 0;
    const size = this.size;
    if (n > size || p > size - n) {
      throw new MemoryAccessError(`the VM passed ${n} bytes at ${p}, outside its memory of ${size} bytes`);
    }
    return [p, n];
  }

  /** A copy of `len` bytes at `ptr`. */
  read(ptr: number, len: number): Uint8Array {
    const [p, n] = this.span(ptr, len);
    return new Uint8Array(this.memory.buffer, p, n).slice();
  }

  write(ptr: number, data: Uint8Array): void {
    const [p, n] = this.span(ptr, data.length);
    if (p === 0 && n > 0) {
      throw new MemoryAccessError(`the VM asked for ${n} bytes at address 0`);
    }
    new Uint8Array(this.memory.buffer, p, n).set(data);
  }

  u32(addr: number): number {
    const [p] = this.span(addr, 4);
    return new DataView(this.memory.buffer).getUint32(p, true);
  }

  setU32(addr: number, value: number): void {
    const [p] = this.span(addr, 4);
    new DataView(this.memory.buffer).setUint32(p, value >>> 0, true);
  }

  /** A protocol word (4-aligned), atomically when the memory is shared. */
  loadU32(addr: number): number {
    const [p] = this.aligned(addr, 4);
    return this.shared ? Atomics.load(this.words, p >>> 2) : this.words[p >>> 2];
  }

  storeU32(addr: number, value: number): void {
    const [p] = this.aligned(addr, 4);
    if (this.shared) {
      Atomics.store(this.words, p >>> 2, value >>> 0);
    } else {
      this.words[p >>> 2] = value >>> 0;
    }
  }

  loadU16(addr: number): number {
    const [p] = this.aligned(addr, 2);
    return this.shared ? Atomics.load(this.halves, p >>> 1) : this.halves[p >>> 1];
  }

  private aligned(addr: number, width: number): [number, number] {
    const span = this.span(addr, width);
    if (span[0] % width) {
      throw new MemoryAccessError(`the VM passed an unaligned ${width}-byte word at ${span[0]}`);
    }
    return span;
  }
}
