// The bridge to lua_wasm_kernel/lua/introspect.lua, as introspect.py: the Lua
// helpers of completion, inspection and is_complete, which the VM loads in
// every new Lua state (the worker's init script) and keeps in the registry;
// `call` runs one helper as a tiny eval, which the page's watcher may stop
// when it runs out of time (`watchId`: the request's id); `Introspector` runs
// a request's calls in the worker, guarded against a stuck or trapped VM.

import type { LuaValue } from './format';
import type { FromWorker } from './protocol';
import type { LuaVM } from './vm';

export const INTROSPECT_CHUNK = '=[lua-wasm introspect]';
const REGISTRY_KEY = 'lua_wasm.introspect';

export type Helper = 'complete' | 'inspect' | 'is_complete';

/** `text` as a Lua string literal that reads back byte for byte (introspect.py: lua_string). */
export function luaString(text: string): string {
  let out = '"';
  for (const byte of new TextEncoder().encode(text)) {
    const safe = byte >= 0x20 && byte <= 0x7e && byte !== 0x22 && byte !== 0x5c;
    out += safe ? String.fromCharCode(byte) : `\\${String(byte).padStart(3, '0')}`;
  }
  return out + '"';
}

/**
 * The first value the helper `fn` returns, or null if the call failed (the
 * user replaced the global `debug`: then no completions or inspection). A
 * trap is thrown to the caller.
 */
export function call(vm: LuaVM, fn: Helper, args: string[], watchId = 0): LuaValue {
  const code = `debug.getregistry()["${REGISTRY_KEY}"].${fn}(${args.map(luaString).join(', ')})`;
  const result = vm.eval(code, INTROSPECT_CHUNK, null, watchId);
  return result.status === 0 && result.values.length ? result.values[0] : null;
}

/** `call`'s value if a string (what complete and is_complete answer), else null. */
export function callText(vm: LuaVM, fn: Helper, args: string[], watchId = 0): string | null {
  const value = call(vm, fn, args, watchId);
  return typeof value === 'string' ? value : null;
}

/** What `Introspector.run` returns when the eval trapped: the kernel was told, the VM is never used again. */
export const TRAPPED = Symbol('trapped');

/**
 * Runs each introspection request's evals in the worker. Before the first
 * one after a cell it posts the VM's memory ('rescue'): if an introspection
 * never ends (no shared memory) or traps, the kernel restarts from it, the
 * last cell's state kept. A trap is posted as 'trapped' (the kernel restarts
 * the worker and answers the request), never answered as "nothing found"
 * with the half-updated instance kept, as execute does for a cell.
 */
export class Introspector {
  private rescued = false;

  constructor(private readonly post: (message: FromWorker, transfer?: Transferable[]) => void) {}

  /** A cell ran or a VM started: the next introspection posts the memory again. */
  changed(): void {
    this.rescued = false;
  }

  run<T>(machine: LuaVM, id: number, fn: (machine: LuaVM) => T): T | typeof TRAPPED {
    if (!this.rescued) {
      const image = machine.saveImage().buffer as ArrayBuffer;
      this.post({ type: 'rescue', image, ids: machine.ext.ids() }, [image]);
      this.rescued = true;
    }
    try {
      return fn(machine);
    } catch (e) {
      console.error('lua-wasm: an introspection trapped; the kernel restarts the VM', e);
      this.post({ type: 'trapped', id, reason: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
      return TRAPPED;
    }
  }
}
