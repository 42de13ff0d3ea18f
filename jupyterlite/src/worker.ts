// The VM's Web Worker: loads lua.wasm and the engine's Lua modules from the
// extension's own folder, runs cells in a LuaVM and posts their output, rich
// output and results back to the kernel (kernel.ts). Protocol: protocol.ts.

import { Display } from './display';
import { HostCallError } from './host_calls';
import { INTROSPECT_CHUNK, call, callText } from './introspect';
import { helpText, inspect, notFound } from './inspect';
import type { FromWorker, IExecuteMessage, IInspectMessage, IIntrospectMessage, IStartMessage, ToWorker } from './protocol';
import { SiteFiles } from './files';
import { SiteModules } from './site_modules';
import { StdlibDocs } from './stdlib_docs';
import { LuaVM } from './vm';

const NO_INPUT_MESSAGE = 'this frontend does not allow input';
const LUA_MODULES = ['display', 'require'];

const scope = self as unknown as {
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
  location: Location;
};

let vm: LuaVM | null = null;
let current = 0; // the id of the cell running
let inputEpoch = 0;
let docs = StdlibDocs.empty(); // lua_wasm_kernel/stdlib_docs.json, for inspect and help(x)
const display = new Display((msgType, content) => post({ type: 'iopub', id: current, msgType, content }));

function post(message: FromWorker, transfer: Transferable[] = []): void {
  scope.postMessage(message, transfer);
}

async function fetchBytes(name: string): Promise<ArrayBuffer> {
  const response = await fetch(new URL(name, scope.location.href));
  if (!response.ok) {
    throw new Error(`cannot load ${name}: HTTP ${response.status}`);
  }
  return response.arrayBuffer();
}

async function start(message: IStartMessage): Promise<void> {
  const docsLoaded = loadDocs();
  const [wasm, introspect, ...modules] = await Promise.all([
    fetchBytes('lua.wasm'),
    fetchBytes('lua/introspect.lua'),
    ...LUA_MODULES.map(name => fetchBytes(`lua/${name}.lua`))
  ]);
  const sources = new Map(LUA_MODULES.map((name, i) => [name, new Uint8Array(modules[i])]));
  docs = await docsLoaded;
  const module = await WebAssembly.compile(wasm);
  const next = new LuaVM(
    module,
    message.memoryBytes,
    [[INTROSPECT_CHUNK, new TextDecoder().decode(introspect)]],
    new SiteFiles(message.filesUrl ?? null)
  );
  const calls = next.hostCalls;
  calls.register('lua_wasm.module', name => {
    const source = typeof name === 'string' ? sources.get(name) : undefined;
    if (source === undefined) {
      throw new HostCallError(`no such module: ${String(name)}`);
    }
    return source;
  });
  for (const [name, fn] of Object.entries(display.functions())) {
    calls.register(name, fn);
  }
  calls.register('describe', (name, facts) => helpText(name, facts, docs)); // help(x), as Shift-Tab says
  calls.register('input', () => {
    throw new HostCallError(NO_INPUT_MESSAGE);
  });
  calls.register('input_epoch', () => inputEpoch);
  // require from the site's files (site_modules.ts).
  const siteModules = new SiteModules(message.filesUrl ?? null);
  calls.register('search_module', (name, path, sep, rep) => siteModules.search(name, path, sep ?? null, rep ?? null));
  calls.register('read_module', filename => siteModules.read(filename));
  for (const table of message.tables) {
    try {
      next.ext.load(table);
    } catch (e) {
      console.error('lua-wasm: a stored external table is malformed; skipped', e);
    }
  }
  if (message.image !== undefined) {
    next.ext.rebind(message.ids ?? []);
    next.start(new Uint8Array(message.image));
  } else {
    next.start();
  }
  vm = next;
  post({ type: 'ready', banner: `Lua 5.4 in WebAssembly (lua-wasm, browser host), memory limit ${message.memoryBytes} bytes` });
}

function execute(message: IExecuteMessage): void {
  const machine = vm!;
  current = message.id;
  inputEpoch += 1;
  display.begin(!message.silent);
  const image = machine.saveImage();
  post({ type: 'image', id: message.id, image: image.buffer as ArrayBuffer, ids: machine.ext.ids() }, [image.buffer as ArrayBuffer]);
  const onOutput = message.silent
    ? null
    : (stream: number, text: string) => post({ type: 'stream', id: message.id, name: stream === 2 ? 'stderr' : 'stdout', text });
  let result;
  try {
    result = machine.eval(message.code, message.chunkName, onOutput);
  } catch (e) {
    vm = null; // never reused: its heap may be half-updated
    post({ type: 'trapped', id: message.id, reason: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
    return;
  }
  const { changed, dropped } = machine.ext.takeChanges();
  post({
    type: 'done',
    id: message.id,
    result: { status: result.status, display: result.display, error: result.error, traceback: result.traceback },
    payload: display.payloads,
    changed,
    dropped
  });
}

/** The standard library's docs; none (logged) if they cannot be read: inspect still describes the rest. */
async function loadDocs(): Promise<StdlibDocs> {
  try {
    return StdlibDocs.parse(new TextDecoder().decode(await fetchBytes('stdlib_docs.json')));
  } catch (e) {
    console.warn('lua-wasm: no standard library docs for inspect', e);
    return StdlibDocs.empty();
  }
}

/** The first value an introspect helper returns, if a string (as introspect.py's call). */
function introspect(message: IIntrospectMessage): void {
  let value: string | null = null;
  if (vm !== null) {
    try {
      value = callText(vm, message.fn, message.args);
    } catch (e) {
      console.error('lua-wasm: an introspection call trapped', e);
    }
  }
  post({ type: 'introspected', id: message.id, value });
}

/** An inspect_reply (inspect.ts), from introspect.lua's facts and the cells' sources. */
function inspectAt(message: IInspectMessage): void {
  let reply = notFound();
  const machine = vm;
  if (machine !== null) {
    try {
      reply = inspect(message.code, message.cursor, message.detailLevel, message.sources, docs, path =>
        call(machine, 'inspect', [path])
      );
    } catch (e) {
      console.error('lua-wasm: an inspection failed', e);
    }
  }
  post({ type: 'inspected', id: message.id, reply });
}

scope.onmessage = (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  if (message.type === 'start') {
    start(message).catch(e => post({ type: 'failed', error: e instanceof Error ? e.message : String(e) }));
  } else if (message.type === 'execute') {
    execute(message);
  } else if (message.type === 'introspect') {
    introspect(message);
  } else if (message.type === 'inspect') {
    inspectAt(message);
  }
};
