// The host's end of the output ring (docs/ABI.md, "Output"): the mirror of
// lua_wasm_kernel/output_ring.py. The memory is not shared, so only the VM's
// own thread consumes it, inside lw_host_output: when the ring is full, the
// stream changes, before a host call and as an eval ends. Each chunk is
// posted at once, so output streams in those steps.

import { Stream } from './abi';
import { HostMemory } from './host_memory';

export type OutputCallback = (stream: number, text: string) => void;

export class OutputRing {
  private active = false;
  private onOutput: OutputCallback | null = null;
  private decoders = new Map<number, TextDecoder>();

  /** Refuses a ring or buffer outside memory (the import then traps the instance). */
  constructor(
    private readonly mem: HostMemory,
    private readonly ring: number,
    private readonly buffer: number,
    private readonly capacity: number
  ) {
    const size = mem.size;
    if (!(ring > 0 && ring % 4 === 0 && ring + 12 <= size && buffer > 0 && capacity > 0 && buffer + capacity <= size)) {
      throw new RangeError(`the output ring (${ring}, buffer ${buffer}+${capacity}) lies outside linear memory`);
    }
  }

  /** An eval starts: its output goes to `onOutput` (null: dropped). */
  begin(onOutput: OutputCallback | null): void {
    this.onOutput = onOutput;
    this.decoders.clear();
    this.active = true;
  }

  /** The eval ended: the decoders' tails go out. */
  finish(): void {
    try {
      for (const [stream, decoder] of this.decoders) {
        const tail = decoder.decode();
        if (tail && this.onOutput) {
          this.onOutput(stream, tail);
        }
      }
    } finally {
      this.decoders.clear();
      this.onOutput = null;
      this.active = false;
    }
  }

  /** lw_host_output: consumes what the ring holds and delivers it. */
  drain(): void {
    const chunk = this.take();
    if (chunk === null || !this.active || this.onOutput === null) {
      return;
    }
    const [stream, data] = chunk;
    let decoder = this.decoders.get(stream);
    if (decoder === undefined) {
      decoder = new TextDecoder('utf-8');
      this.decoders.set(stream, decoder);
    }
    const text = decoder.decode(data, { stream: true });
    if (text) {
      this.onOutput(stream, text);
    }
  }

  private take(): [number, Uint8Array] | null {
    const mem = this.mem;
    const written = mem.u32(this.ring); // write_index first: it covers the bytes and the stream
    const read = mem.u32(this.ring + 4);
    const pending = (written - read) >>> 0;
    if (pending === 0) {
      return null;
    }
    const stream = mem.u32(this.ring + 8);
    if (!this.active && pending < this.capacity) {
      return null; // between evals: kept for the next cell
    }
    if (pending > this.capacity || (stream !== Stream.STDOUT && stream !== Stream.STDERR)) {
      console.error(`lua-wasm: the VM's output ring is inconsistent (${pending} bytes pending, stream ${stream}): dropped`);
      mem.setU32(this.ring + 4, written);
      return null;
    }
    const start = read % this.capacity;
    const first = Math.min(pending, this.capacity - start);
    const data = new Uint8Array(pending);
    data.set(mem.read(this.buffer + start, first));
    if (first < pending) {
      data.set(mem.read(this.buffer, pending - first), first);
    }
    mem.setU32(this.ring + 4, written);
    return [stream, data];
  }
}
