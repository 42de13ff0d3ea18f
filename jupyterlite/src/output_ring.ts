// The host's end of the output ring (docs/ABI.md, "Output"): the mirror of
// lua_wasm_kernel/output_ring.py, in two parts.
// - OutputRing consumes the ring in linear memory. The worker does so inside
//   lw_host_output (the ring is full, the stream changes, before a host call,
//   as an eval ends); when the page is cross-origin isolated the memory is
//   shared and the page's thread also does so every tick while a cell runs
//   (page_watcher.ts), both under the control block's lock. Each consumed
//   chunk carries the ring index it starts at.
// - OutputStreams, on the page, puts the chunks of both consumers back in
//   the ring's order (a worker's chunk travels by postMessage, so the page's
//   own later chunk may arrive first), decodes each stream's UTF-8 and
//   delivers the text.

import { Stream } from './abi';
import { HostMemory } from './host_memory';

export type OutputCallback = (stream: number, text: string) => void;

/** Bytes consumed from the ring: `start` is the ring's read_index before them (mod 2^32). */
export interface IOutputChunk {
  start: number;
  stream: number;
  data: Uint8Array;
}

export type ChunkSink = (chunk: IOutputChunk) => void;

/** The lock the page and the worker take around the ring (control_block.ts), when the memory is shared. */
export interface IRingLock {
  lock(): void;
  unlock(): void;
}

const WRITE_INDEX = 0;
const READ_INDEX = 4;
const STREAM = 8;

export class OutputRing {
  private active = false;
  private sink: ChunkSink | null = null;

  /** Refuses a ring or buffer outside memory (the import then traps the instance). */
  constructor(
    private readonly mem: HostMemory,
    readonly ring: number,
    private readonly buffer: number,
    private readonly capacity: number,
    private readonly guard: IRingLock | null = null
  ) {
    const size = mem.size;
    if (!(ring > 0 && ring % 4 === 0 && ring + 12 <= size && buffer > 0 && capacity > 0 && buffer + capacity <= size)) {
      throw new RangeError(`the output ring (${ring}, buffer ${buffer}+${capacity}) lies outside linear memory`);
    }
  }

  /** An eval starts: its chunks go to `sink` (null: dropped). */
  begin(sink: ChunkSink | null): void {
    this.sink = sink;
    this.active = true;
  }

  /** The eval ended: later output waits in the ring for the next eval. */
  finish(): void {
    this.sink = null;
    this.active = false;
  }

  /** The ring's read_index now. */
  readIndex(): number {
    return this.mem.loadU32(this.ring + READ_INDEX);
  }

  /** lw_host_output: consumes what the ring holds and hands it to the sink. */
  drain(): void {
    this.guard?.lock();
    let chunk: IOutputChunk | null;
    try {
      chunk = this.take(this.active);
    } finally {
      this.guard?.unlock();
    }
    if (chunk !== null && this.active && this.sink !== null) {
      this.sink(chunk);
    }
  }

  /**
   * Copies the pending bytes out and frees their room (the caller holds the
   * lock when the memory is shared). Outside an eval (`active` false) output
   * stays for the next eval unless the ring is full.
   */
  take(active: boolean): IOutputChunk | null {
    const mem = this.mem;
    const written = mem.loadU32(this.ring + WRITE_INDEX); // first: it covers the bytes and the stream
    const read = mem.loadU32(this.ring + READ_INDEX);
    const pending = (written - read) >>> 0;
    if (pending === 0) {
      return null;
    }
    const stream = mem.loadU32(this.ring + STREAM);
    if (!active && pending < this.capacity) {
      return null;
    }
    if (pending > this.capacity || (stream !== Stream.STDOUT && stream !== Stream.STDERR)) {
      console.error(`lua-wasm: the VM's output ring is inconsistent (${pending} bytes pending, stream ${stream}): dropped`);
      mem.storeU32(this.ring + READ_INDEX, written);
      return null;
    }
    const start = read % this.capacity;
    const first = Math.min(pending, this.capacity - start);
    const data = new Uint8Array(pending);
    data.set(mem.read(this.buffer + start, first));
    if (first < pending) {
      data.set(mem.read(this.buffer, pending - first), first);
    }
    mem.storeU32(this.ring + READ_INDEX, written);
    return { start: read, stream, data };
  }
}

/** Chunks held back this long at most (a worker's chunk lost in a dying worker must not stall output). */
const HELD_CHUNKS_MAX = 1024;

/** The page's side: chunks in ring order, each stream decoded incrementally, delivered as text. */
export class OutputStreams {
  private next: number | null = null;
  private held = new Map<number, IOutputChunk>();
  private decoders = new Map<number, TextDecoder>();
  private deliver: OutputCallback | null = null;

  /** A cell starts at ring index `start` (null: at its first chunk); its text goes to `deliver` (null: dropped). */
  begin(start: number | null, deliver: OutputCallback | null): void {
    this.next = start === null ? null : start >>> 0;
    this.held.clear();
    this.decoders.clear();
    this.deliver = deliver;
  }

  /** Where the cell's output starts, if nothing set it yet (the page learns it from the control block). */
  startAt(start: number): void {
    if (this.next === null) {
      this.next = start >>> 0;
    }
  }

  accept(chunk: IOutputChunk): void {
    if (this.next === null) {
      this.next = chunk.start >>> 0;
    }
    this.held.set(chunk.start >>> 0, chunk);
    if (this.held.size > HELD_CHUNKS_MAX) {
      console.error('lua-wasm: output chunks arrived out of order and the gap never closed; delivering them as they are');
      this.flushHeld();
      return;
    }
    for (let c = this.held.get(this.next); c !== undefined; c = this.held.get(this.next)) {
      this.held.delete(this.next);
      this.next = (this.next + c.data.length) >>> 0;
      this.decode(c);
    }
  }

  /** The cell ended: anything held, then the decoders' tails. */
  finish(): void {
    try {
      this.flushHeld();
      for (const [stream, decoder] of this.decoders) {
        const tail = decoder.decode();
        if (tail && this.deliver) {
          this.deliver(stream, tail);
        }
      }
    } finally {
      this.decoders.clear();
      this.deliver = null;
      this.next = null;
    }
  }

  private flushHeld(): void {
    const rest = [...this.held.values()].sort((a, b) => ((a.start - (this.next ?? 0)) >>> 0) - ((b.start - (this.next ?? 0)) >>> 0));
    this.held.clear();
    for (const c of rest) {
      this.next = (c.start + c.data.length) >>> 0;
      this.decode(c);
    }
  }

  private decode(chunk: IOutputChunk): void {
    let decoder = this.decoders.get(chunk.stream);
    if (decoder === undefined) {
      decoder = new TextDecoder('utf-8');
      this.decoders.set(chunk.stream, decoder);
    }
    const text = decoder.decode(chunk.data, { stream: true });
    if (text && this.deliver) {
      this.deliver(chunk.stream, text);
    }
  }
}
