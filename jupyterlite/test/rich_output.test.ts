// rich_output.ts against lua_wasm_kernel/rich_output.json and the shared
// table tests/shared/rich_output_cases.json (which tests/test_rich_output.py
// runs against the Python host): the same neutralized markdown, the same
// refusals. text/html's sanitizer is JupyterLab's, checked in the page by
// tests/lite/test_lite_rich_output.py; here a stub shows it is applied.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';

import { RichOutput } from '../src/rich_output';

const ROOT = resolve(__dirname, '..', '..', '..');
const rules = RichOutput.parseRules(readFileSync(join(ROOT, 'lua_wasm_kernel', 'rich_output.json'), 'utf-8'));
const shared = JSON.parse(readFileSync(join(ROOT, 'tests', 'shared', 'rich_output_cases.json'), 'utf-8'));
const cases: Array<[string, string, string]> = shared.cases;
const latexCases: Array<[string, string, string]> = shared.latex;
const rich = new RichOutput(rules, html => `sanitized(${html})`);

for (const [name, source, expected] of cases) {
  test(`markdown: ${name}`, () => {
    assert.deepEqual(rich.clean({ 'text/markdown': source }), { data: { 'text/markdown': expected }, refused: [] });
  });
}

for (const [name, source, expected] of latexCases) {
  test(`latex: ${name}`, () => {
    assert.deepEqual(rich.clean({ 'text/latex': source }), { data: { 'text/latex': expected }, refused: [] });
  });
}

test('html goes through the sanitizer, other allowed types pass as they are', () => {
  const png = 'iVBORw0KGgo=';
  assert.deepEqual(rich.clean({ 'text/html': '<b>x</b>', 'image/png': png, 'application/json': { a: [1] } }), {
    data: { 'text/html': 'sanitized(<b>x</b>)', 'image/png': png, 'application/json': { a: [1] } },
    refused: []
  });
});

for (const mime of [
  'application/javascript',
  'text/javascript',
  'application/vnd.jupyter.widget-view+json',
  'application/vnd.custom+json',
  'application/pdf',
  'constructor',
  '__proto__'
]) {
  test(`${mime} is refused with the allowed list`, () => {
    const bundle = JSON.parse(JSON.stringify({ [mime]: 'alert(1)', 'text/plain': 'x' }));
    const { data, refused } = rich.clean(bundle);
    assert.deepEqual(data, { 'text/plain': 'x' });
    assert.equal(refused.length, 1);
    assert.match(refused[0], new RegExp(`'${mime.replace(/[+./]/g, '\\$&')}' is refused: .*run script`));
    assert.match(refused[0], /allowed types: text\/plain, text\/html, text\/markdown, text\/latex, image\/svg\+xml/);
  });
}

test('the Python host refuses with the same words', () => {
  const py = readFileSync(join(ROOT, 'lua_wasm_kernel', 'rich_output.py'), 'utf-8');
  assert.ok(py.includes('is refused: the notebook renders it as trusted output, where it could run "'));
  assert.ok(py.includes('script in the page; allowed types: '));
});
