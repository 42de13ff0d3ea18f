// tests/shared/introspection_cases.json against the browser kernel: the same
// cases tests/test_shared_introspection.py runs against the Python kernel,
// here through completion.ts, inspect.ts, is_complete.ts and lexer.ts. Each
// case's calls to lua/introspect.lua are answered from the table (what the
// Python host's VM answered): node 20's V8 cannot compile lua.wasm's
// exception handling, and both hosts run the same bytes. So the browser code
// must ask the VM the same questions and turn the answers into the same reply.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';

import { complete } from '../src/completion';
import { charIndex, jsIndex } from '../src/cursor';
import { helpText, inspect } from '../src/inspect';
import { LuaTable, LuaValue } from '../src/format';
import { isComplete } from '../src/is_complete';
import { inStringOrComment, openBlocks, openCall } from '../src/lexer';
import { StdlibDocs } from '../src/stdlib_docs';

const ROOT = resolve(__dirname, '..', '..', '..');
const KERNEL = join(ROOT, 'lua_wasm_kernel');
const CASES_PATH = join(ROOT, 'tests', 'shared', 'introspection_cases.json');

interface ICase {
  name: string;
  cells: Array<[string, string]>;
  request: string;
  code?: string;
  cursor?: number;
  detail_level?: number;
  name_arg?: string | null;
  value?: string;
  reply: unknown;
  vm?: Array<[string, string[], unknown]>;
}

const cases: ICase[] = JSON.parse(readFileSync(CASES_PATH, 'utf-8')).cases;
const docs = StdlibDocs.parse(readFileSync(join(KERNEL, 'stdlib_docs.json'), 'utf-8'));

/** A VM answer as the table keeps it ({lua_table: pairs}, {bytes: hex}, integers as numbers) as the format decodes it. */
function luaValue(v: unknown): LuaValue {
  if (typeof v === 'number') {
    return Number.isInteger(v) ? BigInt(v) : v;
  }
  if (typeof v === 'object' && v !== null && 'bytes' in v) {
    return Uint8Array.from(Buffer.from((v as { bytes: string }).bytes, 'hex'));
  }
  if (typeof v === 'object' && v !== null && 'lua_table' in v) {
    return new LuaTable((v as { lua_table: Array<[unknown, unknown]> }).lua_table.map(([k, x]) => [luaValue(k), luaValue(x)]));
  }
  return v as LuaValue;
}

/** The VM's side of a case: each call must be the next one the table lists; it answers as listed. */
class ReplayVM {
  private next = 0;
  constructor(private readonly calls: Array<[string, string[], unknown]>) {}

  ask(helper: string, args: string[]): LuaValue {
    assert.ok(this.next < this.calls.length, `an extra VM call ${helper}(${args.join(', ')})`);
    const [expected, expectedArgs, value] = this.calls[this.next++];
    assert.deepEqual([helper, args], [expected, expectedArgs], 'the VM call');
    return luaValue(value);
  }

  text(helper: string, args: string[]): string | null {
    const value = this.ask(helper, args);
    return typeof value === 'string' ? value : null;
  }

  done(): void {
    assert.equal(this.next, this.calls.length, 'calls the table lists were not made');
  }
}

/** What the browser kernel answers to the case's request. */
async function answer(vm: ReplayVM, c: ICase): Promise<unknown> {
  const code = c.code ?? '';
  switch (c.request) {
    case 'complete':
      return complete(code, c.cursor!, async (path, sep, prefix) => vm.text('complete', [path, sep, prefix]));
    case 'inspect':
      return inspect(code, c.cursor!, c.detail_level!, new Map(c.cells), docs, path => vm.ask('inspect', [path]));
    case 'is_complete':
      return isComplete(code, async text => vm.text('is_complete', [text]));
    case 'help':
      return helpText(c.name_arg ?? null, vm.ask('info', [c.value!]), docs);
    case 'open_blocks':
      return openBlocks(code);
    case 'in_string_or_comment':
      return inStringOrComment(code, jsIndex(code, c.cursor!));
    case 'open_call': {
      const at = openCall(code, jsIndex(code, c.cursor!));
      return at === null ? null : charIndex(code, at);
    }
  }
  throw new Error(`unknown request ${c.request} in introspection_cases.json`);
}

test('the shared table has cases of every request', () => {
  const requests = new Set(cases.map(c => c.request));
  assert.deepEqual([...requests].sort(), ['complete', 'help', 'in_string_or_comment', 'inspect', 'is_complete', 'open_blocks', 'open_call']);
  assert.ok(docs.size > 100, 'stdlib_docs.json has the standard library');
});

for (const c of cases) {
  test(`shared case, ${c.request}: ${c.name}`, async () => {
    const vm = new ReplayVM(c.vm ?? []);
    assert.deepEqual(await answer(vm, c), c.reply);
    vm.done();
  });
}
