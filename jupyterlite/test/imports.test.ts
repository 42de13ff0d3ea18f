// The browser host's import checks (docs/ABI.md): every pointer and length
// from wasm is a u32 checked against the memory's size, and each import
// answers a failed check as the Python host does. Runs under node's test
// runner against a plain WebAssembly.Memory (no module needed).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Errno, Tag } from '../src/abi';
import { ExtStore, FAILED, INVALID_KEY, NO_TABLE } from '../src/ext_tables';
import { SiteFiles, confinedName } from '../src/files';
import { FormatError, LuaTable, decode, encode } from '../src/format';
import { HostCalls, TAKE_OK, TAKE_REFUSED } from '../src/host_calls';
import { HostMemory, MemoryAccessError } from '../src/host_memory';
import { OutputRing, OutputStreams } from '../src/output_ring';
import { makeImports } from '../src/vm';

const PAGE = 65536;

function memory(pages = 1): HostMemory {
  return new HostMemory(new WebAssembly.Memory({ initial: pages, maximum: pages }));
}

function put(mem: HostMemory, at: number, bytes: Uint8Array): void {
  new Uint8Array(mem.memory.buffer).set(bytes, at);
}

const utf8 = (s: string) => new TextEncoder().encode(s);

test('span: inside memory, up to its last byte', () => {
  const mem = memory();
  assert.deepEqual(mem.span(PAGE - 4, 4), [PAGE - 4, 4]);
  assert.deepEqual(mem.span(PAGE, 0), [PAGE, 0]);
});

test('span: refuses ranges past the end, wrapped negatives and non-integers', () => {
  const mem = memory();
  assert.throws(() => mem.span(PAGE - 3, 4), MemoryAccessError);
  assert.throws(() => mem.span(-1, 1), MemoryAccessError); // 0xffffffff as u32
  assert.throws(() => mem.span(8, -1), MemoryAccessError); // a length of 4 GiB - 1
  assert.throws(() => mem.span(2 ** 32 - 4, 8), MemoryAccessError); // would wrap around in u32
  assert.throws(() => mem.span(1.5, 1), MemoryAccessError);
  assert.throws(() => mem.write(0, new Uint8Array([1])), MemoryAccessError);
});

function hostCall(mem: HostMemory, calls: HostCalls, name: string, args: Uint8Array): number {
  put(mem, 100, utf8(name));
  put(mem, 1000, args);
  return calls.call(100, utf8(name).length, 1000, args.length);
}

function argsOf(...values: any[]): Uint8Array {
  const body = values.map(v => encode(v));
  const out = new Uint8Array(4 + body.reduce((n, b) => n + b.length, 0));
  new DataView(out.buffer).setUint32(0, values.length, true);
  let at = 4;
  for (const b of body) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

function takeText(mem: HostMemory, calls: HostCalls, result: number): string {
  const len = result < 0 ? -1 - result : result;
  assert.equal(calls.take(5000, len), TAKE_OK);
  return new TextDecoder().decode(mem.read(5000, len));
}

test('lw_host_call: runs the function, the reply is taken once with its exact length', () => {
  const mem = memory();
  const calls = new HostCalls(() => mem);
  calls.register('add', (a, b) => (a as bigint) + (b as bigint));
  const n = hostCall(mem, calls, 'add', argsOf(40, 2));
  assert.equal(n, 9);
  assert.equal(calls.take(5000, n), TAKE_OK);
  assert.equal(decode(mem.read(5000, n)), 42n);
  assert.equal(calls.take(5000, n), TAKE_REFUSED, 'a reply is taken once');
});

test('lw_host_call: every failure is an error reply, never an exception', () => {
  const mem = memory();
  const calls = new HostCalls(() => mem);
  calls.register('boom', () => {
    throw new Error('it broke');
  });
  assert.match(takeText(mem, calls, hostCall(mem, calls, 'nope', argsOf())), /the host has no function 'nope'/);
  assert.match(takeText(mem, calls, hostCall(mem, calls, 'boom', argsOf())), /^it broke$/);
  assert.match(takeText(mem, calls, calls.call(100, 257, 1000, 4)), /longer than 256 bytes/);
  assert.match(takeText(mem, calls, calls.call(PAGE - 2, 4, 1000, 4)), /^host call: .*outside its memory/);
  assert.match(takeText(mem, calls, calls.call(100, 4, -8, 16)), /^host call: /);
  put(mem, 1000, new Uint8Array([1, 0, 0, 0, 0x09]));
  assert.match(takeText(mem, calls, calls.call(100, 4, 1000, 5)), /malformed arguments \(unknown tag 0x09/);
  assert.match(takeText(mem, calls, hostCall(mem, calls, 'boom', new Uint8Array([0, 0, 0, 0, 0]))), /trailing bytes/);
});

test('lw_host_take: refuses a wrong length, no pending reply and a range outside memory, forgetting the reply', () => {
  const mem = memory();
  const calls = new HostCalls(() => mem);
  calls.register('s', () => 'abc');
  assert.equal(calls.take(5000, 0), TAKE_REFUSED, 'nothing pending');
  let n = hostCall(mem, calls, 's', argsOf());
  assert.equal(calls.take(5000, n + 1), TAKE_REFUSED);
  assert.equal(calls.take(5000, n), TAKE_REFUSED, 'forgotten after a refused take');
  n = hostCall(mem, calls, 's', argsOf());
  assert.equal(calls.take(PAGE - 2, n), TAKE_REFUSED);
  assert.equal(calls.take(0, n), TAKE_REFUSED, 'never at address 0');
  n = hostCall(mem, calls, 's', argsOf());
  hostCall(mem, calls, 's', argsOf()); // a reply never taken is dropped by the next call
  assert.equal(calls.take(5000, n), TAKE_OK);
});

function extKey(key: any): Uint8Array {
  return encode(key);
}

test('external tables: results and checks of lw_ext_get/set/len/next', () => {
  const mem = memory();
  const ext = new ExtStore();
  const id = ext.open('t');
  const key = extKey('k');
  const value = encode(new LuaTable([[1n, true]]));
  put(mem, 200, key);
  put(mem, 300, value);
  assert.equal(ext.set(mem, id, 200, key.length, 300, value.length), 0);
  assert.equal(ext.get(mem, id, 200, key.length, 400, 256), value.length);
  assert.deepEqual(mem.read(400, value.length), value);
  // Too small a room: the length, nothing written.
  put(mem, 700, new Uint8Array(value.length));
  assert.equal(ext.get(mem, id, 200, key.length, 700, 2), value.length);
  assert.deepEqual(mem.read(700, value.length), new Uint8Array(value.length));
  // Unknown table, ranges outside memory (u32 wrap included).
  assert.equal(ext.get(mem, 99, 200, key.length, 400, 256), NO_TABLE);
  assert.equal(ext.get(mem, id, PAGE - 1, key.length, 400, 256), FAILED);
  assert.equal(ext.get(mem, id, 200, key.length, PAGE - 8, 256), FAILED);
  assert.equal(ext.set(mem, id, 200, key.length, -4, 8), FAILED);
  assert.equal(ext.next(mem, id, 200, -1, 400, 256), FAILED);
  assert.equal(ext.len(99), NO_TABLE);
  // next: the first pair, then the end; a key not in the table is -3.
  assert.equal(ext.next(mem, id, 0, 0, 400, 256), key.length + value.length);
  assert.equal(ext.next(mem, id, 200, key.length, 400, 256), 0);
  const other = extKey('absent');
  put(mem, 800, other);
  assert.equal(ext.next(mem, id, 800, other.length, 400, 256), INVALID_KEY);
  // An empty value deletes; next can still resume after the deleted key.
  assert.equal(ext.set(mem, id, 200, key.length, 300, 0), 0);
  assert.equal(ext.get(mem, id, 200, key.length, 400, 256), 0);
  assert.equal(ext.next(mem, id, 200, key.length, 400, 256), 0);
});

test('external tables: # is a border, as luaH_getn finds it', () => {
  const mem = memory();
  const ext = new ExtStore();
  const id = ext.open('seq');
  const one = encode(1);
  put(mem, 300, one);
  for (let i = 1; i <= 100; i++) {
    const key = extKey(i);
    put(mem, 200, key);
    ext.set(mem, id, 200, key.length, 300, one.length);
  }
  assert.equal(ext.len(id), 100);
  const key = extKey(50);
  put(mem, 200, key);
  ext.set(mem, id, 200, key.length, 300, 0);
  const border = ext.len(id);
  assert.ok(border === 49 || border === 100, `border ${border}`);
});

test('external tables: names are checked, and stored bytes are validated on load', () => {
  const ext = new ExtStore();
  assert.throws(() => ext.open(''), /1 to 256 bytes/);
  assert.throws(() => ext.open('x'.repeat(257)), /1 to 256 bytes/);
  assert.throws(() => ext.open(3n), /a table name is a string, not number/);
  assert.throws(() => ext.load({ name: utf8('bad'), items: [[new Uint8Array([Tag.TABLE, 0, 0, 0, 0]), encode(1)]] }));
  assert.throws(() => ext.load({ name: utf8('bad'), items: [[encode('k'), new Uint8Array([Tag.CYCLE, 0, 0, 0, 0])]] }));
  ext.load({ name: utf8('good'), items: [[encode('k'), encode(2)]] });
  assert.deepEqual(ext.names().map(n => new TextDecoder().decode(n)), ['good']);
  const changes = ext.takeChanges();
  assert.equal(changes.changed.length, 0, 'a loaded table is not a change');
});

test('files: read-only over the site; EINVAL, EACCES, EROFS, ENOENT, EBADF as files.py', () => {
  const mem = memory();
  const site: Record<string, Uint8Array> = { 'http://s/files/nb/data.csv': utf8('a,b\n1,2\n') };
  const fetched: string[] = [];
  const files = new SiteFiles('http://s/files/nb/', (url: string) => {
    fetched.push(url);
    return site[url] ? { status: 200, body: site[url] } : { status: 404, body: null };
  }).imports(() => mem);
  const open = (name: string, mode: string): number => {
    put(mem, 100, utf8(name));
    put(mem, 200, utf8(mode));
    return files.lw_file_open(100, utf8(name).length, 200, mode.length) as number;
  };
  const h = open('data.csv', 'r');
  assert.ok(h > 0);
  assert.equal(files.lw_file_read(h, 1000, 4), 4);
  assert.equal(new TextDecoder().decode(mem.read(1000, 4)), 'a,b\n');
  assert.equal(files.lw_file_seek(h, 0n, 2), 8n);
  assert.equal(files.lw_file_read(h, 1000, 16), 0, 'at the end');
  assert.equal(files.lw_file_seek(h, -9n, 1), BigInt(-Errno.EINVAL));
  assert.equal(files.lw_file_seek(h, 0n, 7), BigInt(-Errno.EINVAL));
  assert.equal(files.lw_file_read(h, PAGE - 2, 16), -Errno.EINVAL);
  assert.equal(files.lw_file_write(h, 1000, 4), -Errno.EBADF, 'read-only');
  assert.equal(files.lw_file_close(h), 0);
  assert.equal(files.lw_file_close(h), -Errno.EBADF);
  assert.equal(files.lw_file_read(h, 1000, 4), -Errno.EBADF);
  assert.equal(open('missing.csv', 'rb'), -Errno.ENOENT);
  assert.equal(open('data.csv', 'w'), -Errno.EROFS);
  assert.equal(open('data.csv', 'r+'), -Errno.EROFS);
  assert.equal(open('data.csv', 'rw'), -Errno.EINVAL);
  assert.equal(open('../secret', 'r'), -Errno.EACCES);
  assert.equal(open('.hidden', 'r'), -Errno.EACCES);
  assert.ok(!fetched.some(u => u.includes('secret') || u.includes('hidden')), 'refused names are never fetched');
  assert.equal(files.lw_file_open(0, 0, 200, 1), -Errno.EROFS, 'tmpfile()');
  assert.equal(files.lw_file_open(PAGE - 1, 4, 200, 1), -Errno.EINVAL);
  assert.equal(files.lw_file_remove(100, 4), -Errno.EROFS);
  assert.equal(files.lw_file_rename(100, 4, PAGE, 1), -Errno.EINVAL);
  assert.equal(files.lw_file_tmpname(100, 64), -Errno.EROFS);
  assert.equal(confinedName('a/../b.txt'), 'b.txt');
  assert.equal(new SiteFiles(null).imports(() => mem).lw_file_open(100, 8, 200, 1), -Errno.EACCES, 'no site: no files');
});

test('output ring: refuses a ring outside memory; delivers split UTF-8 whole; drops an inconsistent ring', () => {
  const mem = memory();
  assert.throws(() => new OutputRing(mem, PAGE - 8, 1024, 256), RangeError);
  assert.throws(() => new OutputRing(mem, 64, PAGE - 100, 256), RangeError);
  const ring = new OutputRing(mem, 64, 1024, 256);
  const got: Array<[number, string]> = [];
  const streams = new OutputStreams();
  streams.begin(null, (stream, text) => got.push([stream, text]));
  ring.begin(chunk => streams.accept(chunk));
  const euro = utf8('€'); // three bytes, split over two drains
  put(mem, 1024, euro);
  const words = new DataView(mem.memory.buffer);
  words.setUint32(64 + 8, 1, true);
  words.setUint32(64, 2, true);
  ring.drain();
  words.setUint32(64, 3, true);
  ring.drain();
  assert.deepEqual(got, [[1, '€']]);
  assert.equal(words.getUint32(64 + 4, true), 3, 'consumed up to write_index');
  words.setUint32(64, 3 + 1000, true); // more pending than the buffer holds
  ring.drain();
  assert.equal(words.getUint32(64 + 4, true), 1003, 'dropped');
  words.setUint32(64 + 8, 7, true); // no such stream
  words.setUint32(64, 1004, true);
  ring.drain();
  assert.equal(got.length, 1);
  ring.finish();
  streams.finish();
});

test('makeImports: the external-table imports turn an exception into -2, lw_ext_len answers a BigInt', () => {
  const mem = memory();
  const ext = new ExtStore();
  const calls = new HostCalls(() => mem);
  const imports = makeImports(() => mem, () => null, calls, ext);
  const broken = {
    get: () => {
      throw new Error('x');
    }
  };
  Object.assign(ext, broken);
  assert.equal(imports.lw_ext_get(1, 0, 0, 0, 0), FAILED);
  assert.equal(imports.lw_ext_len(1), BigInt(NO_TABLE));
  assert.equal(typeof imports.lw_host_now(0), 'number');
});

test('format: decode refuses truncated data, unknown tags and nesting past 64 levels', () => {
  assert.throws(() => decode(new Uint8Array([Tag.INTEGER, 1, 2])), FormatError);
  assert.throws(() => decode(new Uint8Array([0x42])), FormatError);
  assert.throws(() => decode(new Uint8Array([Tag.NIL, 0])), FormatError);
  let deep: any = 1;
  for (let i = 0; i < 64; i++) {
    deep = [deep];
  }
  const bytes = encode(deep); // 64 levels: allowed
  assert.equal((decode(bytes) as LuaTable).pairs.length, 1);
  assert.throws(() => encode([deep]), FormatError);
  const tooDeep = new Uint8Array(5 * 65 + 1);
  for (let i = 0; i < 65; i++) {
    tooDeep.set([Tag.TABLE, 1, 0, 0, 0], 5 * i);
  }
  assert.throws(() => decode(tooDeep), /nested more than 64 levels/);
});
