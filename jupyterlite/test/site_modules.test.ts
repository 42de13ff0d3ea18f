// require over the site's files (site_modules.ts): modules.py's name rules.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { HostCallError } from '../src/host_calls';
import { MODULE_SIZE_MAX_BYTES, SiteModules, moduleName } from '../src/site_modules';

test('moduleName: relative .lua names inside the folder, nothing hidden', () => {
  assert.equal(moduleName('./greet.lua'), 'greet.lua');
  assert.equal(moduleName('lib/../greet.lua'), 'greet.lua');
  assert.equal(moduleName('a b/m.lua'), 'a%20b/m.lua');
  for (const bad of ['../up.lua', '/abs.lua', '~/x.lua', 'C:/x.lua', '.hidden/m.lua', 'm.txt', '.lua', 'x\0.lua', '']) {
    assert.equal(moduleName(bad), null, bad);
  }
});

test('search and read: found files, "no file" messages, refusals', () => {
  const asked: string[] = [];
  const files: Record<string, Uint8Array> = { 'http://s/files/nb/greet.lua': new TextEncoder().encode('return 1') };
  const fetch = (url: string, head: boolean) => {
    asked.push(`${head ? 'HEAD' : 'GET'} ${url}`);
    const body = files[url];
    return { status: body ? 200 : 404, body: head ? null : (body ?? null) };
  };
  const modules = new SiteModules('http://s/files/nb/', fetch);
  assert.equal(modules.search('greet', './?.lua;./?/init.lua', '.', '/'), './greet.lua');
  assert.deepEqual(modules.search('a.b', './?.lua;../?.lua', '.', '/'), ["no file './a/b.lua'", "no file '../a/b.lua'"]);
  assert.ok(!asked.some(a => a.includes('../')), 'a name outside the folder is never fetched');
  assert.deepEqual(new TextDecoder().decode(modules.read('./greet.lua')), 'return 1');
  assert.throws(() => modules.read('../greet.lua'), HostCallError);
  assert.throws(() => modules.read('./missing.lua'), /HTTP 404/);
  files['http://s/files/nb/big.lua'] = new Uint8Array(MODULE_SIZE_MAX_BYTES + 1);
  assert.throws(() => modules.read('big.lua'), /larger than/);
  assert.deepEqual(new SiteModules(null, fetch).search('greet', './?.lua', '.', '/'), ["no file './greet.lua'"]);
});
