// The page thread's watcher, when the page is cross-origin isolated and the
// VM's memory is shared: the mirror of lua_wasm_kernel/interrupt.py. While a
// cell runs it ticks every TICK_MS under the control block's lock:
// - Streaming: consumes the output ring (output_ring.ts), so a line printed
//   before a long computation shows at once; only when every message the
//   worker posted has arrived, so its output stays in order with them.
// - Interrupt: arms Lua's stop hook by writing into linear memory, the same
//   words interrupt.py writes (signals.interrupt, then on the running
//   lua_State the hook, basehookcount = hookcount = 1, the mask, then trap = 1
//   in the nearest Lua CallInfo), and re-arms every tick while the request
//   stands. It also ends a wait for input.
// - Escalation: if the cell still runs ESCALATE_AFTER_MS after the interrupt
//   (a long C call, where no hook runs) and no host import is running, the
//   kernel ends the worker and restarts it from the cell's start (kernel.ts).
// - Time limit: an introspection (Tab, Shift-Tab, is_complete) is watched
//   with a deadline (INTROSPECTION_TIME_MAX_SECONDS): when it passes, the
//   watcher arms the stop hook as for the stop button (interrupt.py's timer
//   on that eval's generation), and escalates the same way. It does not
//   stream: the worker drops an introspection's output.
// The page's thread may not block, so it only tries the lock: a tick that
// finds it held (the worker is in lw_host_output) does its work next tick.
// Every address read from memory is bounds-checked before it is written through.

import { ControlBlock, InputState, Word } from './control_block';
import { HostMemory } from './host_memory';
import { IOutputChunk, OutputRing } from './output_ring';

export const TICK_MS = 25; // interrupt.py: TICK_SECONDS
export const ESCALATE_AFTER_MS = 1000; // interrupt.py: ESCALATE_AFTER_SECONDS
const CI_WALK_MAX = 32; // interrupt.py: CI_WALK_MAX
const SIGNAL_INTERRUPT = 0; // offset in interrupt.Signals

/** What the worker shares once its VM started (protocol.ts, 'ready'). */
export interface ISharedVM {
  memory: WebAssembly.Memory;
  layout: Record<string, number>;
  ioBuffer: number;
  ioBufferSize: number;
}

export interface IWatcherEvents {
  /** Messages received from the worker so far (the control block's POSTED counts those sent). */
  received(): number;
  /** Output the page consumed (ordered with the worker's by OutputStreams). */
  output(chunk: IOutputChunk): void;
  /** The ring index the running cell's output starts at. */
  outputStart(start: number): void;
  /** The stop did not take in time: the kernel stops the worker by force. */
  escalate(): void;
}

export class PageWatcher {
  private readonly mem: HostMemory;
  private readonly ring: OutputRing;
  private readonly layout: Record<string, number>;
  private timer: ReturnType<typeof setInterval> | null = null;
  private id = 0; // the eval being watched
  private interruptAt: number | null = null;
  private deadline: number | null = null; // when an introspection is stopped
  private streams = true;
  private hostLeft = 0;
  private hostLeftAt = 0;
  arms = 0; // counters, for tests and benchmarks
  drains = 0;

  constructor(
    private readonly control: ControlBlock,
    vm: ISharedVM,
    private readonly events: IWatcherEvents
  ) {
    this.mem = new HostMemory(vm.memory);
    if (!this.mem.shared) {
      throw new TypeError('the page watcher needs a shared memory');
    }
    this.layout = vm.layout;
    this.ring = new OutputRing(this.mem, vm.layout.output_ring_addr, vm.ioBuffer, vm.ioBufferSize);
    this.valid(vm.layout.signals_addr, 4);
    this.valid(vm.layout.current_thread_addr, 4);
  }

  /**
   * The cell `id` was sent to the worker: watch it. With `limitMs`, an
   * introspection: stopped once it has run that long, its output not streamed.
   */
  begin(id: number, limitMs: number | null = null): void {
    this.end();
    this.id = id;
    this.interruptAt = null;
    this.deadline = limitMs === null ? null : performance.now() + limitMs;
    this.streams = limitMs === null;
    this.hostLeft = this.control.get(Word.HOST_LEFT);
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  /** The cell ended (or its worker did). */
  end(): void {
    if (this.timer !== null) {
      clearInterval(this.timer);
    }
    this.timer = null;
    this.id = 0;
    this.interruptAt = null;
    this.deadline = null;
  }

  /** The stop button: arms the hook now if the lock is free, else at the next tick. */
  interrupt(): boolean {
    if (this.timer === null) {
      return false;
    }
    if (this.interruptAt === null) {
      this.interruptAt = performance.now();
      this.hostLeftAt = this.interruptAt;
    }
    this.tick();
    return true;
  }

  get interruptPending(): boolean {
    return this.interruptAt !== null;
  }

  private tick(): void {
    if (this.timer === null) {
      return;
    }
    if (this.deadline !== null && this.interruptAt === null && performance.now() >= this.deadline) {
      this.interruptAt = this.deadline; // the introspection ran out of time: stop it as the button does
      this.hostLeftAt = this.deadline;
    }
    let chunk: IOutputChunk | null = null;
    let armed = false;
    if (this.control.tryLock()) {
      try {
        if (this.control.get(Word.RUNNING) === this.id) {
          if (this.streams) {
            this.events.outputStart(this.control.get(Word.RING_START));
          }
          if (this.streams && this.control.get(Word.POSTED) === this.events.received()) {
            chunk = this.ring.take(true); // nothing in flight that it could overtake
          }
          if (this.interruptAt !== null) {
            this.arm();
            armed = true;
          }
        }
      } catch (e) {
        console.error('lua-wasm: the watcher could not read the VM', e);
      } finally {
        this.control.unlock();
      }
    }
    if (armed) {
      // The signal is set: the input box's wait ends, and the host call raises "interrupted!".
      this.control.answerInput(InputState.INTERRUPTED);
    }
    if (chunk !== null) {
      this.drains += 1;
      this.events.output(chunk);
    }
    this.escalateIfDue();
  }

  private escalateIfDue(): void {
    if (this.interruptAt === null) {
      return;
    }
    const now = performance.now();
    const left = this.control.get(Word.HOST_LEFT);
    if (left !== this.hostLeft) {
      this.hostLeft = left;
      this.hostLeftAt = now; // a host import returned: the eval gets the whole delay again
    }
    if (this.control.get(Word.IN_HOST) > 0) {
      this.hostLeftAt = now; // JavaScript code runs in the worker: never stopped by force
      return;
    }
    if (now >= Math.max(this.interruptAt, this.hostLeftAt) + ESCALATE_AFTER_MS) {
      this.end();
      this.events.escalate();
    }
  }

  /** True if `width` bytes at `addr` lie inside memory (and not at 0). */
  private valid(addr: number, width: number): boolean {
    return addr > 0 && addr % Math.min(width, 4) === 0 && addr + width <= this.mem.size;
  }

  /** interrupt.py's _arm: the signal, then the hook on the running lua_State (lock held). */
  private arm(): void {
    const lay = this.layout;
    const mem = this.mem;
    this.arms += 1;
    mem.storeU32(lay.signals_addr + SIGNAL_INTERRUPT, 1);
    const L = mem.loadU32(lay.current_thread_addr);
    const last = Math.max(lay.off_hook, lay.off_hookmask, lay.off_basehookcount, lay.off_hookcount, lay.off_ci);
    if (!this.valid(L, last + 4)) {
      return;
    }
    const ci = this.nearestLuaFrame(mem.loadU32(L + lay.off_ci));
    mem.storeU32(L + lay.off_hook, lay.hook_fn);
    mem.storeU32(L + lay.off_basehookcount, 1);
    mem.storeU32(L + lay.off_hookcount, 1);
    mem.storeU32(L + lay.off_hookmask, lay.hook_mask);
    // trap = 1 in the nearest Lua frame, unless L stopped running meanwhile
    // (lw_resume arms the thread it returns to).
    if (ci && mem.loadU32(lay.current_thread_addr) === L) {
      mem.storeU32(ci + lay.off_ci_trap, 1);
    }
  }

  /** The first Lua frame from `ci` down its `previous` chain; 0 if none. */
  private nearestLuaFrame(ci: number): number {
    const lay = this.layout;
    const span = Math.max(lay.off_ci_trap, lay.off_ci_previous, lay.off_ci_callstatus) + 4;
    for (let i = 0; i < CI_WALK_MAX; i++) {
      if (!this.valid(ci, span)) {
        return 0;
      }
      if (!(this.mem.loadU16(ci + lay.off_ci_callstatus) & lay.cist_c)) {
        return ci;
      }
      ci = this.mem.loadU32(ci + lay.off_ci_previous);
    }
    return 0;
  }
}
