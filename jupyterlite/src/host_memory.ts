// Bounds-checked access to the VM's linear memory: every pointer and length
// from wasm goes through span() (docs/ABI.md, "Imports": u32, inside memory).

/** The VM passed a pointer or length outside its memory: the instance is not trusted again. */
export class MemoryAccessError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MemoryAccessError';
  }
}

export class HostMemory {
  constructor(readonly memory: WebAssembly.Memory) {}

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
}
