// One Lua state in one wasm instance, in a Web Worker: the browser's LuaVM
// (lua_wasm_kernel/vm.py). It builds the env.* imports over a fixed-size
// memory (min == max pages), checks what the module says about itself, runs
// cells (docs/ABI.md, "Eval") and reads their replies as hostile bytes.
// With a control block (a cross-origin isolated page) the memory is shared
// with the page's watcher (page_watcher.ts): each eval says so under the
// block's lock, and the host imports that run JavaScript code are counted.

import {
  ABI_VERSION,
  CHUNK_NAME_SIZE_MAX_BYTES,
  Clock,
  EXPORTS,
  INTERRUPT_LAYOUT_FIELDS,
  IO_BUFFER_SIZE_BYTES,
  MEMORY_SIZE_MAX_BYTES,
  MEMORY_SIZE_MIN_BYTES,
  OOM_WHERE_SOURCE_SIZE_BYTES,
  Status,
  WASM_PAGE_SIZE_BYTES
} from './abi';
import { ControlBlock, Word } from './control_block';
import { ExtStore, FAILED } from './ext_tables';
import { SiteFiles } from './files';
import { LuaValue, Reader, lossyText, utf8 } from './format';
import { HostCalls } from './host_calls';
import { HostMemory } from './host_memory';
import { ChunkSink, OutputRing } from './output_ring';
import type { ISharedVM } from './page_watcher';

export interface IEvalResult {
  status: number;
  values: LuaValue[];
  display: string[];
  error?: string;
  traceback?: string;
}

type Exports = Record<(typeof EXPORTS)[number], (...args: number[]) => number> & { _initialize?: () => void };
type Layout = Record<(typeof INTERRUPT_LAYOUT_FIELDS)[number], number>;

// Imports that run JavaScript code which may take long (host functions, site
// files fetched synchronously): the page never stops the VM by force meanwhile.
const HOST_IMPORT = /^(lw_host_call|lw_file_)/;

const U32 = 0xffffffff;
// Offsets in lua_State and CallInfo are small (about 100 bytes on wasm32).
const STRUCT_OFFSET_MAX_BYTES = 1024;
const LAYOUT_ADDRESSES: Record<string, number> = { signals_addr: 8, current_thread_addr: 4, output_ring_addr: 12 };
const LAYOUT_OFFSETS: Record<string, number> = {
  off_hook: 4,
  off_hookmask: 4,
  off_basehookcount: 4,
  off_hookcount: 4,
  off_ci: 4,
  off_ci_trap: 4,
  off_ci_previous: 4,
  off_ci_callstatus: 2
};

export class WasmModuleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WasmModuleError';
  }
}

/** Refuses a memory size the VM cannot run with, naming the valid range. */
export function checkMemorySize(bytes: number): void {
  if (!Number.isInteger(bytes) || bytes < MEMORY_SIZE_MIN_BYTES || bytes > MEMORY_SIZE_MAX_BYTES || bytes % WASM_PAGE_SIZE_BYTES) {
    throw new RangeError(
      `the memory limit must be a multiple of 64 KiB from ${MEMORY_SIZE_MIN_BYTES / 1024} KiB to ` +
        `${MEMORY_SIZE_MAX_BYTES / 1024} KiB, got ${bytes}`
    );
  }
}

/** The env.* imports over one memory: each checks what wasm hands it (docs/ABI.md, "Imports"). */
export function makeImports(
  mem: () => HostMemory,
  ring: () => OutputRing | null,
  hostCalls: HostCalls,
  ext: ExtStore,
  files: SiteFiles = new SiteFiles(null)
): Record<string, any> {
  const start = performance.now();
  const guarded = <T>(name: string, fallback: T, fn: () => T): T => {
    try {
      return fn();
    } catch (e) {
      console.error(`lua-wasm: ${name} failed`, e);
      return fallback;
    }
  };
  return {
    // A failed check here throws on purpose: the eval traps and the state is rolled back.
    lw_host_output: () => ring()?.drain(),
    lw_host_now: (clock: number) =>
      clock === Clock.WALL_SECONDS ? Date.now() / 1000 : (performance.now() - start) / 1000,
    lw_host_call: (a: number, b: number, c: number, d: number) => hostCalls.call(a, b, c, d),
    lw_host_take: (a: number, b: number) => hostCalls.take(a, b),
    lw_ext_get: (t: number, kp: number, kl: number, dp: number, dc: number) =>
      guarded('lw_ext_get', FAILED, () => ext.get(mem(), t, kp, kl, dp, dc)),
    lw_ext_set: (t: number, kp: number, kl: number, vp: number, vl: number) =>
      guarded('lw_ext_set', FAILED, () => ext.set(mem(), t, kp, kl, vp, vl)),
    lw_ext_len: (t: number) => BigInt(guarded('lw_ext_len', FAILED, () => ext.len(t))),
    lw_ext_next: (t: number, kp: number, kl: number, dp: number, dc: number) =>
      guarded('lw_ext_next', FAILED, () => ext.next(mem(), t, kp, kl, dp, dc)),
    ...files.imports(mem)
  };
}

export class LuaVM {
  readonly hostCalls: HostCalls;
  readonly ext = new ExtStore();
  private mem!: HostMemory;
  private ring: OutputRing | null = null;
  private fn!: Exports;
  private oomWhere = 0;
  private interruptLayout!: Layout;

  /** With `control`, `module` must import a shared memory (shared_memory.ts). */
  constructor(
    private readonly module: WebAssembly.Module,
    readonly memoryBytes: number,
    private readonly initScripts: Array<[string, string]> = [],
    private readonly files: SiteFiles = new SiteFiles(null),
    private readonly control: ControlBlock | null = null
  ) {
    checkMemorySize(memoryBytes);
    this.hostCalls = new HostCalls(() => this.mem);
    this.hostCalls.register('lua_wasm.ext.open', name => this.ext.open(name));
    this.hostCalls.register('lua_wasm.ext.tables', () => this.ext.names());
    this.hostCalls.register('lua_wasm.ext.drop', name => this.ext.drop(name));
  }

  /** A fresh instance and Lua state; with `image`, its memory replaced by a saved one. */
  start(image?: Uint8Array): void {
    const pages = this.memoryBytes / WASM_PAGE_SIZE_BYTES;
    // min == max: the memory never grows, so its buffer never changes.
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: this.control !== null });
    this.mem = new HostMemory(memory);
    this.ring = null;
    this.files.closeAll(); // the old instance's handles are gone
    const imports = makeImports(() => this.mem, () => this.ring, this.hostCalls, this.ext, this.files);
    const control = this.control;
    if (control !== null) {
      for (const [name, fn] of Object.entries(imports)) {
        if (HOST_IMPORT.test(name)) {
          imports[name] = (...args: any[]) => {
            control.add(Word.IN_HOST, 1);
            try {
              return fn(...args);
            } finally {
              control.add(Word.IN_HOST, -1);
              control.add(Word.HOST_LEFT, 1);
            }
          };
        }
      }
    }
    const instance = new WebAssembly.Instance(this.module, { env: { memory, ...imports } });
    const exports = instance.exports as unknown as Exports;
    for (const name of EXPORTS) {
      if (typeof exports[name] !== 'function') {
        throw new WasmModuleError(`lua.wasm lacks the export ${name}`);
      }
    }
    this.fn = exports;
    exports._initialize?.();
    const version = this.u32('lw_abi_version');
    if (version !== ABI_VERSION) {
      throw new WasmModuleError(`lua.wasm speaks ABI ${version}, this host ${ABI_VERSION}`);
    }
    if (this.u32('lw_io_buffer_size') !== IO_BUFFER_SIZE_BYTES) {
      throw new WasmModuleError('lua.wasm has an IO buffer of another size than this host');
    }
    const status = this.fn.lw_init();
    if (status !== Status.OK) {
      throw new WasmModuleError(`cannot create a Lua state in ${this.memoryBytes} bytes (status ${status})`);
    }
    const layout = this.layout();
    this.interruptLayout = layout;
    this.ring = new OutputRing(this.mem, layout.output_ring_addr, this.u32('lw_io_buffer'), IO_BUFFER_SIZE_BYTES, control);
    this.oomWhere = this.u32('lw_oom_where');
    this.mem.span(this.oomWhere, 4 + OOM_WHERE_SOURCE_SIZE_BYTES);
    if (image !== undefined) {
      if (image.length !== this.memoryBytes) {
        throw new RangeError(`an image of ${image.length} bytes for a memory of ${this.memoryBytes}`);
      }
      new Uint8Array(memory.buffer).set(image);
      return;
    }
    for (const [name, code] of this.initScripts) {
      const result = this.eval(code, name, null);
      if (result.status !== Status.OK) {
        throw new WasmModuleError(`init script ${name} failed: ${result.error}`);
      }
    }
  }

  /** What the page's watcher needs (a shared memory only). */
  sharedVM(): ISharedVM | null {
    if (!this.mem.shared) {
      return null;
    }
    return { memory: this.mem.memory, layout: { ...this.interruptLayout }, ioBuffer: this.u32('lw_io_buffer'), ioBufferSize: IO_BUFFER_SIZE_BYTES };
  }

  /** The whole linear memory: between evals, the VM's entire state (docs/ABI.md, "Snapshots"). */
  saveImage(): Uint8Array {
    return new Uint8Array(this.mem.memory.buffer).slice();
  }

  /**
   * Runs `code` as one cell; its output goes to `onOutput` (null: dropped).
   * `watchId` (not 0) lets the page's watcher stream and interrupt it. A
   * trap (an exception out of wasm) is thrown to the caller.
   */
  eval(code: string, chunkName: string, onOutput: ChunkSink | null, watchId = 0): IEvalResult {
    const name = utf8(chunkName);
    const body = utf8(code);
    if (name.length > CHUNK_NAME_SIZE_MAX_BYTES) {
      throw new RangeError(`chunk name longer than ${CHUNK_NAME_SIZE_MAX_BYTES} bytes`);
    }
    this.mem.setU32(this.oomWhere, 0);
    const ptr = this.fn.lw_input_reserve(name.length + body.length) >>> 0;
    if (ptr === 0) {
      return {
        status: Status.OUT_OF_MEMORY,
        values: [],
        display: [],
        error: `not enough memory: the cell's ${body.length} bytes do not fit in the VM's heap`
      };
    }
    const input = new Uint8Array(name.length + body.length);
    input.set(name);
    input.set(body, name.length);
    this.mem.write(ptr, input);
    this.ring!.begin(onOutput);
    this.watched(watchId);
    const status = this.fn.lw_eval(name.length, body.length);
    this.watched(0);
    this.ring!.finish();
    const result = this.reply(status);
    if (result.status === Status.OUT_OF_MEMORY) {
      const where = this.oomWhereText();
      if (where) {
        result.error = `${result.error} (at ${where})`;
      }
    }
    return result;
  }

  memoryStats(): Record<string, number> {
    return {
      used_bytes: this.u32('lw_memory_used'),
      peak_bytes: this.u32('lw_memory_peak'),
      limit_bytes: this.u32('lw_memory_limit'),
      lua_bytes: this.u32('lw_lua_count')
    };
  }

  /**
   * Tells the page's watcher which eval runs (0: none), under the lock. As an
   * eval ends, clears what the watcher armed after the VM's own cleanup
   * (interrupt.py's _disarm): the signal, and the stop hook if still ours.
   */
  private watched(id: number): void {
    const control = this.control;
    if (control === null) {
      return;
    }
    control.lock();
    try {
      control.set(Word.RUNNING, id);
      control.set(Word.RING_START, this.ring!.readIndex() | 0);
      if (id !== 0) {
        return;
      }
      const lay = this.interruptLayout;
      const mem = this.mem;
      mem.storeU32(lay.signals_addr, 0);
      const L = mem.loadU32(lay.current_thread_addr); // the main state between evals
      if (L !== 0 && L + Math.max(lay.off_hook, lay.off_hookmask) + 4 <= mem.size && mem.loadU32(L + lay.off_hook) === lay.hook_fn) {
        mem.storeU32(L + lay.off_hookmask, 0);
        mem.storeU32(L + lay.off_hook, 0);
      }
    } finally {
      control.unlock();
    }
  }

  private reply(status: number): IEvalResult {
    const data = this.mem.read(this.fn.lw_reply_ptr(), this.fn.lw_reply_len());
    const reader = new Reader(data);
    const replied = reader.u32();
    if (replied !== status) {
      throw new RangeError(`the reply says status ${replied}, the eval returned ${status}`);
    }
    if (status !== Status.OK) {
      const error = lossyText(reader.bytes());
      const traceback = lossyText(reader.bytes());
      return { status, values: [], display: [], error, traceback: traceback || undefined };
    }
    const result: IEvalResult = { status, values: [], display: [] };
    const count = reader.u32();
    for (let i = 0; i < count; i++) {
      result.values.push(reader.value());
      result.display.push(lossyText(reader.bytes()));
    }
    if (reader.offset !== data.length) {
      throw new RangeError(`the reply has ${data.length - reader.offset} trailing bytes`);
    }
    return result;
  }

  private oomWhereText(): string | null {
    const raw = this.mem.read(this.oomWhere, 4 + OOM_WHERE_SOURCE_SIZE_BYTES);
    const line = new DataView(raw.buffer).getUint32(0, true);
    if (line === 0) {
      return null;
    }
    const source = raw.subarray(4);
    const end = source.indexOf(0);
    return `${lossyText(source.subarray(0, end < 0 ? source.length : end))}:${line}`;
  }

  /** The interrupt layout, refused unless every word is plausible (as vm.py's _check_layout). */
  private layout(): Layout {
    const at = this.u32('lw_interrupt_layout');
    const layout = {} as Layout;
    INTERRUPT_LAYOUT_FIELDS.forEach((field, i) => {
      layout[field] = this.mem.u32(at + 4 * i);
    });
    for (const [field, size] of Object.entries(LAYOUT_ADDRESSES)) {
      const addr = layout[field as keyof typeof layout];
      if (addr === 0 || addr % 4 || addr + size > this.memoryBytes) {
        throw new WasmModuleError(`lua.wasm's interrupt layout has a bad ${field} (${addr})`);
      }
    }
    for (const [field, align] of Object.entries(LAYOUT_OFFSETS)) {
      const offset = layout[field as keyof typeof layout];
      if (offset % align || offset + align > STRUCT_OFFSET_MAX_BYTES) {
        throw new WasmModuleError(`lua.wasm's interrupt layout has a bad ${field} (${offset})`);
      }
    }
    if (layout.hook_fn === 0 || layout.hook_mask === 0 || layout.cist_c === 0 || layout.cist_c > 0xffff) {
      throw new WasmModuleError("lua.wasm's interrupt layout is not usable");
    }
    return layout;
  }

  private u32(name: (typeof EXPORTS)[number]): number {
    return (this.fn[name]() & U32) >>> 0;
  }
}
