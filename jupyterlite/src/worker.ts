// The VM's Web Worker: loads lua.wasm and the engine's Lua modules from the
// extension's own folder, runs cells in a LuaVM and posts their output, rich
// output and results back to the kernel (kernel.ts). Protocol: protocol.ts.
// Given a control block (a cross-origin isolated page), it runs the module
// over a shared memory the page's watcher reads, and io.read waits on the
// block for the input box's reply.

import { WASM_PAGE_SIZE_BYTES } from './abi';
import { ControlBlock, INPUT_SIZE_MAX_BYTES, ISOLATION_HEADERS, InputState, Word } from './control_block';
import { Display } from './display';
import { lossyText } from './format';
import { HostCallError } from './host_calls';
import { INTROSPECT_CHUNK, Introspector, TRAPPED, call, callText } from './introspect';
import { helpText, inspect, notFound } from './inspect';
import type { IOutputChunk } from './output_ring';
import type { FromWorker, IExecuteMessage, IInspectMessage, IIntrospectMessage, IStartMessage, ToWorker } from './protocol';
import { SiteFiles } from './files';
import { SiteModules } from './site_modules';
import { StdlibDocs } from './stdlib_docs';
import { type IRichOutputRules, RichOutput } from './rich_output';
import { shareMemoryImport } from './shared_memory';
import { LuaVM } from './vm';

const NO_INPUT_MESSAGE = 'this frontend does not allow input';
const NOT_ISOLATED_INPUT_MESSAGE =
  `this page is not cross-origin isolated, so the VM cannot wait for input: serve the site with the headers ${ISOLATION_HEADERS}`;
const NOT_SHARED_INPUT_MESSAGE = "the VM's memory could not be shared with this page (see the browser's console), so it cannot wait for input";
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
let allowStdin = false;
let control: ControlBlock | null = null;
const introspector = new Introspector(post);
const display = new Display((msgType, content) => post({ type: 'iopub', id: current, msgType, content }));

function post(message: FromWorker, transfer: Transferable[] = []): void {
  control?.add(Word.POSTED, 1); // before: the page must not think it has everything
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
  const rulesLoaded = loadRichOutputRules();
  const [wasm, introspect, ...modules] = await Promise.all([
    fetchBytes('lua.wasm'),
    fetchBytes('lua/introspect.lua'),
    ...LUA_MODULES.map(name => fetchBytes(`lua/${name}.lua`))
  ]);
  const sources = new Map(LUA_MODULES.map((name, i) => [name, new Uint8Array(modules[i])]));
  docs = await docsLoaded;
  const rules = await rulesLoaded;
  const richOutput = rules === null ? null : new RichOutput(rules, html => html); // refusals only: the page cleans
  display.refusal = mime => (richOutput === null ? null : richOutput.refusal(mime));
  let module: WebAssembly.Module | null = null;
  control = null;
  if (message.control !== undefined) {
    try {
      module = await WebAssembly.compile(shareMemoryImport(new Uint8Array(wasm), message.memoryBytes / WASM_PAGE_SIZE_BYTES));
      control = new ControlBlock(message.control);
    } catch (e) {
      console.warn('lua-wasm: cannot run lua.wasm over a shared memory; the stop button will restart the VM', e);
      module = null;
    }
  }
  module ??= await WebAssembly.compile(wasm);
  const next = new LuaVM(
    module,
    message.memoryBytes,
    [[INTROSPECT_CHUNK, new TextDecoder().decode(introspect)]],
    new SiteFiles(message.filesUrl ?? null),
    control
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
  calls.register('input', (prompt, password) => readLine(prompt, password));
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
  introspector.changed();
  post({
    type: 'ready',
    banner: `Lua 5.4 in WebAssembly (lua-wasm, browser host), memory limit ${message.memoryBytes} bytes`,
    shared: next.sharedVM()
  });
}

/** The host function "input" (stdin.py): one line from the input box, null at end of input. */
function readLine(prompt: unknown, password: unknown): string | null {
  if (!allowStdin) {
    throw new HostCallError(NO_INPUT_MESSAGE);
  }
  if (control === null) {
    throw new HostCallError(self.crossOriginIsolated === true ? NOT_SHARED_INPUT_MESSAGE : NOT_ISOLATED_INPUT_MESSAGE);
  }
  const text = prompt instanceof Uint8Array ? lossyText(prompt) : String(prompt ?? '');
  control.set(Word.INPUT_STATE, InputState.WAITING);
  post({ type: 'input_request', id: current, prompt: text, password: password === true });
  const state = control.waitForInput(); // the page answers, or its watcher on an interrupt
  control.set(Word.INPUT_STATE, InputState.IDLE);
  switch (state) {
    case InputState.REPLIED:
      return lossyText(control.input.slice(0, control.get(Word.INPUT_LENGTH)));
    case InputState.END:
      return null;
    case InputState.TOO_LONG:
      throw new HostCallError(`the line typed is longer than ${INPUT_SIZE_MAX_BYTES} bytes`);
    default:
      throw new HostCallError('interrupted while waiting for input');
  }
}

function execute(message: IExecuteMessage): void {
  const machine = vm!;
  introspector.changed();
  current = message.id;
  inputEpoch += 1;
  allowStdin = message.allowStdin;
  display.begin(!message.silent);
  const image = machine.saveImage();
  post({ type: 'image', id: message.id, image: image.buffer as ArrayBuffer, ids: machine.ext.ids() }, [image.buffer as ArrayBuffer]);
  const onOutput = message.silent ? null : (chunk: IOutputChunk) => post({ type: 'output', id: message.id, chunk }, [chunk.data.buffer as ArrayBuffer]);
  let result;
  try {
    result = machine.eval(message.code, message.chunkName, onOutput, message.id);
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

/** rich_output.json's rules, for display's refusals; null (logged) if unreadable: the page still drops what they refuse. */
async function loadRichOutputRules(): Promise<IRichOutputRules | null> {
  try {
    return RichOutput.parseRules(new TextDecoder().decode(await fetchBytes('rich_output.json')));
  } catch (e) {
    console.warn('lua-wasm: no rich output rules in the worker', e);
    return null;
  }
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

/** An introspection's value (null: no VM); TRAPPED drops the instance, as execute does. */
function introspection<T>(id: number, run: (machine: LuaVM) => T): T | null | typeof TRAPPED {
  if (vm === null) {
    return null;
  }
  const value = introspector.run(vm, id, run);
  if (value === TRAPPED) {
    vm = null; // never reused: its heap may be half-updated
  }
  return value;
}

/** The first value an introspect helper returns, if a string (as introspect.py's call). */
function introspect(message: IIntrospectMessage): void {
  const value = introspection(message.id, machine => callText(machine, message.fn, message.args, message.id));
  if (value !== TRAPPED) {
    post({ type: 'introspected', id: message.id, value });
  }
}

/** An inspect_reply (inspect.ts), from introspect.lua's facts and the cells' sources. */
function inspectAt(message: IInspectMessage): void {
  const reply = introspection(message.id, machine =>
    inspect(message.code, message.cursor, message.detailLevel, message.sources, docs, path =>
      call(machine, 'inspect', [path], message.id)
    )
  );
  if (reply !== TRAPPED) {
    post({ type: 'inspected', id: message.id, reply: reply ?? notFound() });
  }
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
