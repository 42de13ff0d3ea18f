// The memory-import patcher (shared_memory.ts): the real lua.wasm becomes a
// module V8 instantiates over a shared memory; hostile bytes are refused
// with WasmPatchError, never read past their end.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { WasmPatchError, leb128, shareMemoryImport } from '../src/shared_memory';

const LUA_WASM = join(__dirname, '..', '..', '..', 'lua_wasm_kernel', 'lua.wasm');
const HEADER = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
const name = (s: string) => [...leb128(s.length), ...new TextEncoder().encode(s)];

/** A module that imports only `module.field` as a memory with these limit bytes. */
function memoryModule(limits: number[], module = 'env', field = 'memory'): Uint8Array {
  const body = [1, ...name(module), ...name(field), 0x02, ...limits];
  return new Uint8Array([...HEADER, 2, ...leb128(body.length), ...body]);
}

/** Stub functions for every function import, so the module can be instantiated. */
function stubImports(module: WebAssembly.Module, memory: WebAssembly.Memory): WebAssembly.Imports {
  const env: Record<string, WebAssembly.ImportValue> = {};
  for (const imp of WebAssembly.Module.imports(module)) {
    env[imp.name] = imp.kind === 'memory' ? memory : () => 0;
  }
  return { env };
}

test('lua.wasm: only the memory import changes; V8 links the copy to a shared memory only', t => {
  if (!existsSync(LUA_WASM)) {
    t.skip('lua_wasm_kernel/lua.wasm is not built');
    return;
  }
  const wasm = new Uint8Array(readFileSync(LUA_WASM));
  const pages = 32;
  const patched = shareMemoryImport(wasm, pages);
  // The copy's memory import is now shared (patching it again is refused), and
  // the bytes after the import section are the original's.
  assert.throws(() => shareMemoryImport(patched, pages), /limits flags 3/);
  assert.ok(patched.length > wasm.length && patched.length - wasm.length <= 8);
  const tail = 300_000;
  assert.deepEqual(patched.subarray(patched.length - tail), wasm.subarray(wasm.length - tail));
  if (!WebAssembly.validate(wasm)) {
    // Node 20's V8 predates the exception-handling opcodes lua.wasm uses; the
    // browser suite (tests/lite) instantiates the copy in chromium.
    return;
  }
  const shared = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  const plain = new WebAssembly.Memory({ initial: pages, maximum: pages });
  const module = new WebAssembly.Module(patched);
  const instance = new WebAssembly.Instance(module, stubImports(module, shared));
  assert.equal(typeof instance.exports.lw_init, 'function');
  assert.throws(() => new WebAssembly.Instance(module, stubImports(module, plain)), WebAssembly.LinkError);
  const original = new WebAssembly.Module(wasm);
  assert.throws(() => new WebAssembly.Instance(original, stubImports(original, shared)), WebAssembly.LinkError);
});

test('limits: min only and min/max become shared min/max; the section size is rewritten', () => {
  assert.deepEqual(
    Array.from(shareMemoryImport(memoryModule([0x00, 5]), 32)),
    Array.from(memoryModule([0x03, 5, 32]))
  );
  assert.deepEqual(
    Array.from(shareMemoryImport(memoryModule([0x01, 5, ...leb128(65536)]), 200)),
    Array.from(memoryModule([0x03, 5, ...leb128(200)]))
  );
  // A section whose size needs one more LEB byte after the patch (127 -> 128 bytes),
  // behind a global import: V8 parses what was written.
  const global = (field: string) => [...name('env'), ...name(field), 0x03, 0x7f, 0x00];
  const grown = (field: string) => {
    const body = [2, ...global(field), ...name('env'), ...name('memory'), 0x02, 0x00, 5];
    return new Uint8Array([...HEADER, 2, ...leb128(body.length), ...body]);
  };
  const field = 'g'.repeat(127 - grown('').length + HEADER.length + 2);
  assert.equal(grown(field).length, HEADER.length + 2 + 127);
  const patched = shareMemoryImport(grown(field), 32);
  assert.deepEqual(Array.from(patched.subarray(HEADER.length, HEADER.length + 3)), [2, 0x80, 0x01]);
  const module = new WebAssembly.Module(patched);
  assert.deepEqual(WebAssembly.Module.imports(module).map(i => i.kind), ['global', 'memory']);
  const memory = new WebAssembly.Memory({ initial: 32, maximum: 32, shared: true });
  new WebAssembly.Instance(module, { env: { [field]: 0, memory } });
});

test('hostile bytes: refused with WasmPatchError, never read past the end', () => {
  const good = memoryModule([0x00, 5]);
  assert.throws(() => shareMemoryImport(new Uint8Array([1, 2, 3]), 32), WasmPatchError);
  assert.throws(() => shareMemoryImport(new Uint8Array([...HEADER.slice(0, 4), 2, 0, 0, 0]), 32), WasmPatchError);
  // Every truncation of a good module.
  for (let n = HEADER.length + 1; n < good.length; n++) {
    assert.throws(() => shareMemoryImport(good.subarray(0, n), 32), WasmPatchError, `truncated at ${n}`);
  }
  // A section size past the end of the file.
  assert.throws(() => shareMemoryImport(new Uint8Array([...HEADER, 2, 0xff, 0xff, 0x03, 0]), 32), WasmPatchError);
  // An over-long LEB128 (six bytes) and one whose fifth byte overflows u32.
  assert.throws(() => shareMemoryImport(new Uint8Array([...HEADER, 2, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]), 32), /over-long/);
  assert.throws(() => shareMemoryImport(new Uint8Array([...HEADER, 2, 0xff, 0xff, 0xff, 0xff, 0x1f]), 32), /over-long/);
  // An import count larger than the section, a name longer than the section.
  assert.throws(() => shareMemoryImport(new Uint8Array([...HEADER, 2, 1, 0x7f]), 32), WasmPatchError);
  assert.throws(() => shareMemoryImport(new Uint8Array([...HEADER, 2, 3, 1, 0x70, 0x41]), 32), WasmPatchError);
  // Already shared, 64-bit, unknown flags, unknown import kind.
  assert.throws(() => shareMemoryImport(memoryModule([0x03, 5, 32]), 32), /limits flags 3/);
  assert.throws(() => shareMemoryImport(memoryModule([0x04, 5]), 32), /limits flags 4/);
  assert.throws(() => shareMemoryImport(memoryModule([0x00, 5]).map((b, i, a) => (i === a.length - 3 ? 0x07 : b)), 32), /kind 7/);
  // Limits that do not admit the host's size; no memory import; no import section.
  assert.throws(() => shareMemoryImport(memoryModule([0x00, 40]), 32), /do not admit/);
  assert.throws(() => shareMemoryImport(memoryModule([0x01, 5, 16]), 32), /do not admit/);
  assert.throws(() => shareMemoryImport(new Uint8Array([...HEADER, 2, 1, 0]), 32), /imports no memory/);
  assert.throws(() => shareMemoryImport(new Uint8Array([...HEADER, 1, 1, 0]), 32), /no import section/);
  assert.throws(() => shareMemoryImport(good, 0), RangeError);
  assert.throws(() => shareMemoryImport(good, 65537), RangeError);
});
