// The cross-origin isolated page's side (docs/ABI.md, "Hosts"): the ring
// read over a shared memory by two consumers and put back in order
// (output_ring.ts), the control block's lock and input box
// (control_block.ts), and the watcher writing the stop hook's words as
// interrupt.py does (page_watcher.ts), over a memory laid out by hand.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ControlBlock, INPUT_SIZE_MAX_BYTES, InputState, Word } from '../src/control_block';
import { HostMemory, MemoryAccessError } from '../src/host_memory';
import { IOutputChunk, OutputRing, OutputStreams } from '../src/output_ring';
import { PageWatcher } from '../src/page_watcher';

const PAGE = 65536;
const utf8 = (s: string) => new TextEncoder().encode(s);

function sharedMemory(pages = 1): WebAssembly.Memory {
  return new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
}

test('output ring: two consumers over a shared memory; the page puts their chunks back in ring order', () => {
  const memory = sharedMemory();
  const vm = new HostMemory(memory);
  const page = new HostMemory(memory);
  assert.ok(vm.shared && page.shared);
  const RING = 64;
  const BUF = 1024;
  const words = new DataView(memory.buffer);
  const write = (at: number, text: Uint8Array, upTo: number) => {
    new Uint8Array(memory.buffer).set(text, BUF + (at % 256));
    words.setUint32(RING, upTo, true);
  };
  words.setUint32(RING + 8, 1, true);
  const workerRing = new OutputRing(vm, RING, BUF, 256);
  const pageRing = new OutputRing(page, RING, BUF, 256);
  const got: string[] = [];
  const streams = new OutputStreams();
  streams.begin(null, (_stream, text) => got.push(text));
  const posted: IOutputChunk[] = []; // the worker's chunks, still in flight
  workerRing.begin(chunk => posted.push(chunk));

  const euro = utf8('€'); // split between the two consumers
  write(0, utf8('ab'), 2);
  workerRing.drain(); // [0, 2) goes by postMessage
  write(2, euro.subarray(0, 1), 3);
  workerRing.drain(); // [2, 3)
  streams.startAt(0);
  write(3, euro.subarray(1), 5);
  const own = pageRing.take(true)!; // [3, 5): the page's, before the worker's arrive
  assert.deepEqual([own.start, own.data.length], [3, 2]);
  streams.accept(own);
  assert.deepEqual(got, [], 'held until the gap closes');
  streams.accept(posted[1]);
  assert.deepEqual(got, []);
  streams.accept(posted[0]);
  assert.deepEqual(got, ['ab', '€']);
  assert.equal(vm.loadU32(RING + 4), 5);
  workerRing.finish();
  streams.finish();
  assert.throws(() => vm.loadU32(RING + 2), MemoryAccessError, 'a protocol word must be aligned');
});

test('output streams: the index wraps around 2^32; a gap that never closes is delivered at finish', () => {
  const got: string[] = [];
  const streams = new OutputStreams();
  streams.begin(2 ** 32 - 2, (_s, t) => got.push(t));
  streams.accept({ start: 1, stream: 1, data: utf8('c') });
  streams.accept({ start: 2 ** 32 - 2, stream: 1, data: utf8('ab') });
  streams.accept({ start: 0, stream: 2, data: utf8('!') });
  assert.deepEqual(got, ['ab', '!', 'c']);
  streams.accept({ start: 10, stream: 1, data: utf8('late') }); // [2, 10) lost with a dead worker
  assert.deepEqual(got, ['ab', '!', 'c']);
  streams.finish();
  assert.deepEqual(got, ['ab', '!', 'c', 'late']);
  streams.begin(null, null); // a silent cell: dropped
  streams.accept({ start: 5, stream: 1, data: utf8('x') });
  streams.finish();
  assert.equal(got.length, 4);
});

test('control block: try-lock, and the input box answered once, refusing an over-long line', () => {
  const control = ControlBlock.create();
  assert.ok(control.tryLock());
  assert.ok(!control.tryLock());
  control.unlock();
  control.lock();
  control.unlock();
  assert.ok(!control.answerInput(InputState.REPLIED, utf8('x')), 'nobody waits');
  control.set(Word.INPUT_STATE, InputState.WAITING);
  assert.ok(control.answerInput(InputState.REPLIED, utf8('hello')));
  assert.equal(control.waitForInput(), InputState.REPLIED);
  assert.equal(new TextDecoder().decode(control.input.slice(0, control.get(Word.INPUT_LENGTH))), 'hello');
  assert.ok(!control.answerInput(InputState.INTERRUPTED), 'answered already');
  control.set(Word.INPUT_STATE, InputState.WAITING);
  assert.ok(control.answerInput(InputState.REPLIED, new Uint8Array(INPUT_SIZE_MAX_BYTES + 1)));
  assert.equal(control.waitForInput(), InputState.TOO_LONG);
  assert.throws(() => new ControlBlock(new SharedArrayBuffer(16)), RangeError);
});

// A memory laid out by hand: Signals, current_thread, a lua_State, a C frame over a Lua frame.
const LAYOUT = {
  signals_addr: 0x100,
  current_thread_addr: 0x104,
  hook_fn: 7,
  hook_mask: 8,
  off_hook: 40,
  off_hookmask: 44,
  off_basehookcount: 48,
  off_hookcount: 52,
  off_ci: 20,
  off_ci_trap: 24,
  off_ci_previous: 4,
  off_ci_callstatus: 34,
  cist_c: 2,
  output_ring_addr: 0x200
};
const L = 0x400;
const C_FRAME = 0x600;
const LUA_FRAME = 0x700;

function laidOut(): [WebAssembly.Memory, DataView] {
  const memory = sharedMemory();
  const v = new DataView(memory.buffer);
  v.setUint32(LAYOUT.current_thread_addr, L, true);
  v.setUint32(L + LAYOUT.off_ci, C_FRAME, true);
  v.setUint16(C_FRAME + LAYOUT.off_ci_callstatus, LAYOUT.cist_c, true);
  v.setUint32(C_FRAME + LAYOUT.off_ci_previous, LUA_FRAME, true);
  v.setUint32(C_FRAME + LAYOUT.off_ci_trap, 0x5555, true); // u.c.old_errfunc: never written
  return [memory, v];
}

function watched(memory: WebAssembly.Memory, control: ControlBlock, escalated: () => void = () => undefined): PageWatcher {
  return new PageWatcher(control, { memory, layout: LAYOUT, ioBuffer: 0x1000, ioBufferSize: 256 }, {
    received: () => 0,
    output: () => undefined,
    outputStart: () => undefined,
    escalate: escalated
  });
}

test('page watcher: arms the stop hook as interrupt.py does, in the nearest Lua frame, and ends an input wait', () => {
  const [memory, v] = laidOut();
  const control = ControlBlock.create();
  const watcher = watched(memory, control);
  assert.equal(watcher.interrupt(), false, 'no cell: nothing to stop');
  watcher.begin(3);
  control.set(Word.RUNNING, 3);
  control.set(Word.INPUT_STATE, InputState.WAITING);
  assert.ok(watcher.interrupt());
  watcher.end();
  assert.equal(v.getUint32(LAYOUT.signals_addr, true), 1);
  assert.equal(v.getUint32(L + LAYOUT.off_hook, true), LAYOUT.hook_fn);
  assert.equal(v.getUint32(L + LAYOUT.off_hookmask, true), LAYOUT.hook_mask);
  assert.equal(v.getUint32(L + LAYOUT.off_basehookcount, true), 1);
  assert.equal(v.getUint32(L + LAYOUT.off_hookcount, true), 1);
  assert.equal(v.getUint32(LUA_FRAME + LAYOUT.off_ci_trap, true), 1);
  assert.equal(v.getUint32(C_FRAME + LAYOUT.off_ci_trap, true), 0x5555, 'a C frame is not written');
  assert.equal(control.get(Word.INPUT_STATE), InputState.INTERRUPTED);
  assert.equal(watcher.arms, 1);
});

test('page watcher: touches nothing while another eval runs, the lock is held, or addresses are hostile', () => {
  const [memory, v] = laidOut();
  const control = ControlBlock.create();
  const watcher = watched(memory, control);
  watcher.begin(3);
  control.set(Word.RUNNING, 4); // the worker runs another eval (or none yet)
  watcher.interrupt();
  assert.equal(v.getUint32(LAYOUT.signals_addr, true), 0);
  control.set(Word.RUNNING, 3);
  control.lock(); // the worker is in lw_host_output
  watcher.interrupt();
  assert.equal(v.getUint32(LAYOUT.signals_addr, true), 0);
  control.unlock();
  v.setUint32(LAYOUT.current_thread_addr, PAGE - 8, true); // a lua_State past the end of memory
  watcher.interrupt();
  watcher.end();
  assert.equal(v.getUint32(LAYOUT.signals_addr, true), 1, 'the signal is set');
  assert.equal(v.getUint32(L + LAYOUT.off_hook, true), 0, 'nothing written through the hostile address');
  assert.throws(() => watched(new WebAssembly.Memory({ initial: 1, maximum: 1 }), control), TypeError);
});

test('page watcher: escalates only after the delay, and not while a host import runs', async () => {
  const [memory] = laidOut();
  const control = ControlBlock.create();
  let escalations = 0;
  const watcher = watched(memory, control, () => escalations++);
  watcher.begin(3);
  control.set(Word.RUNNING, 3);
  control.add(Word.IN_HOST, 1); // waiting for input, say
  watcher.interrupt();
  await new Promise(resolve => setTimeout(resolve, 1300));
  assert.equal(escalations, 0, 'JavaScript code in the worker is never stopped by force');
  control.add(Word.IN_HOST, -1);
  control.add(Word.HOST_LEFT, 1);
  while (escalations === 0) {
    await new Promise(resolve => setTimeout(resolve, 50));
  }
  assert.equal(escalations, 1);
  assert.equal(watcher.interrupt(), false, 'the watcher stopped watching');
});

test('page watcher: streams the ring only when every message the worker posted has arrived', () => {
  const [memory, v] = laidOut();
  const control = ControlBlock.create();
  const chunks: IOutputChunk[] = [];
  let received = 0;
  const watcher = new PageWatcher(control, { memory, layout: LAYOUT, ioBuffer: 0x1000, ioBufferSize: 256 }, {
    received: () => received,
    output: chunk => chunks.push(chunk),
    outputStart: () => undefined,
    escalate: () => undefined
  });
  new Uint8Array(memory.buffer).set(utf8('hi'), 0x1000);
  v.setUint32(LAYOUT.output_ring_addr + 8, 1, true);
  v.setUint32(LAYOUT.output_ring_addr, 2, true);
  watcher.begin(3);
  control.set(Word.RUNNING, 3);
  control.add(Word.POSTED, 1); // a display message still in flight
  (watcher as any).tick();
  assert.equal(chunks.length, 0, 'the output would overtake it');
  received = 1;
  (watcher as any).tick();
  watcher.end();
  assert.deepEqual(chunks.map(c => [c.start, new TextDecoder().decode(c.data)]), [[0, 'hi']]);
});
