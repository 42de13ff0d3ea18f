// complete_request's text work (completion.ts), as lua_wasm_kernel/complete.py does it;
// the standard library's docs (stdlib_docs.ts) and cursor positions (cursor.ts).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { test } from 'node:test';

import { complete, declaredNames, findTarget } from '../src/completion';
import { charIndex, jsIndex } from '../src/cursor';
import { inStringOrComment, openBlocks } from '../src/lexer';
import { StdlibDocs } from '../src/stdlib_docs';

test('findTarget: a dotted path, a method, a bare prefix; nothing after a call or inside a number', () => {
  assert.deepEqual(findTarget('x = string.fo', 13), ['string', '.', 'fo']);
  assert.deepEqual(findTarget('s:up', 4), ['s', ':', 'up']);
  assert.deepEqual(findTarget('pri', 3), ['', '', 'pri']);
  assert.equal(findTarget('f().x', 5), null);
  assert.equal(findTarget('0x1f', 4), null);
  assert.equal(findTarget('x = ', 4), null);
});

test('declaredNames: locals, parameters and loop variables of the cell', () => {
  const names = declaredNames('local alpha, beta = 1\nfunction f(gamma, delta) end\nfor k, v in pairs(t) do end');
  assert.deepEqual([...names].sort(), ['alpha', 'beta', 'delta', 'gamma', 'k', 'v']);
});

test('complete: the VM\'s names, keywords and the cell\'s locals, sorted, replacing the prefix', async () => {
  const asked: string[][] = [];
  const reply = await complete('local whale = 1\nwh', 18, async (path, sep, prefix) => {
    asked.push([path, sep, prefix]);
    return 'while_not_a_keyword\tfunction';
  });
  assert.deepEqual(asked, [['', '', 'wh']]);
  assert.deepEqual(reply.matches, ['whale', 'while', 'while_not_a_keyword']);
  assert.equal(reply.cursor_start, 16);
  assert.equal(reply.cursor_end, 18);
  const fields = await complete('string.fo', 9, async () => 'format\tfunction');
  assert.deepEqual(fields.matches, ['format'], 'no keywords after a path');
});

test('lexer: strings and comments hide completion; open blocks give the indent', () => {
  assert.equal(findTarget('x = "string.fo', 14), null);
  assert.equal(findTarget('-- string.fo', 12), null);
  assert.equal(findTarget('x = [[ pri', 10), null);
  assert.deepEqual(findTarget('x = "a" .. pri', 14), ['', '', 'pri']);
  assert.equal(inStringOrComment('s = "a\\"b', 9), true, 'an escaped quote does not close');
  assert.equal(inStringOrComment('--[==[ x ]==] y', 15), false);
  assert.equal(openBlocks('for i = 1, 3 do\n  if i then'), 2);
  assert.equal(openBlocks('function f()\n  return {1,\n'), 2);
  assert.equal(openBlocks('if a then x() elseif b then'), 1);
  assert.equal(openBlocks('s = "do then ( [["'), 0);
});

test('StdlibDocs: the shipped file parses; a malformed one is refused, naming what is wrong', () => {
  const docs = StdlibDocs.parse(readFileSync(resolve(__dirname, '..', '..', '..', 'lua_wasm_kernel', 'stdlib_docs.json'), 'utf-8'));
  assert.equal(docs.lookup('table.insert')?.[0], 'table.insert (list, [pos,] value)');
  assert.equal(docs.lookup('constructor'), null, 'no inherited property is a doc');
  assert.equal(docs.manualLink('print'), 'https://www.lua.org/manual/5.4/manual.html#pdf-print');
  assert.throws(() => StdlibDocs.parse('[]'), /lacks manual_url/);
  assert.throws(() => StdlibDocs.parse('{"manual_url": "u", "docs": {"print": ["sig"]}}'), /entry of print/);
  assert.throws(() => StdlibDocs.parse('{"manual_url": "u", "docs": {"print": [1, "d"]}}'), /entry of print/);
});

test('cursor: code points to JavaScript indexes and back, past an emoji', () => {
  const text = 'a\u{1F600}b';
  assert.equal(jsIndex(text, 2), 3);
  assert.equal(charIndex(text, 3), 2);
  assert.equal(jsIndex(text, 99), text.length, 'clamped to the text');
});
