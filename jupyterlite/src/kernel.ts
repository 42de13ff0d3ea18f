// The JupyterLite kernel "Lua 5.4 (WASM)": turns kernel messages into
// requests to the VM's worker (worker.ts) and its answers into messages.
// Owns the worker's life: a trap ends it, and a new one starts from the
// memory of the cell's start (kept here), so the Lua state is rolled back to
// before that cell, not lost. When the page is cross-origin isolated the VM's
// memory is shared and a watcher on this thread (page_watcher.ts) streams
// output, stops a cell in place and ends a wait for input; otherwise, or when
// the stop does not take in time, an interrupt ends the worker the same way.
// External tables are saved to IndexedDB (ext_storage.ts) after each cell;
// a failed save is warned about on the cell's stderr and retried.
// Introspections (Tab, Shift-Tab, is_complete) run Lua the cells may have
// replaced: each gets INTROSPECTION_TIME_MAX_SECONDS, after which the watcher
// stops it in place, or (not isolated, or it did not stop) the worker is
// restarted from the memory posted before it, the last cell's state kept; so
// is a worker whose introspection trapped. The request answers "nothing found".
// Every display passes rich_output.ts's rules here, on the page's side of the
// worker, before JupyterLab renders it as trusted output.

import { Sanitizer } from '@jupyterlab/apputils';
import type { KernelMessage } from '@jupyterlab/services';
import { BaseKernel, IKernel } from '@jupyterlite/services';
import { PromiseDelegate } from '@lumino/coreutils';

import { INTROSPECTION_TIME_MAX_SECONDS } from './abi';
import { complete } from './completion';
import { ControlBlock, ISOLATION_HEADERS, InputState } from './control_block';
import { ExtStorage } from './ext_storage';
import { IInspectReply, notFound } from './inspect';
import { isComplete } from './is_complete';
import type { IStoredTable } from './ext_tables';
import { OutputStreams } from './output_ring';
import { ESCALATE_AFTER_MS, PageWatcher } from './page_watcher';
import type { ISharedVM } from './page_watcher';
import type { FromWorker, IStartMessage, IWireResult, ToWorker } from './protocol';
import { TableSaves } from './table_saves';
import { IRichOutputRules, RichOutput } from './rich_output';

// The extension's static folder (webpack's public path), where rich_output.json is copied.
declare const __webpack_public_path__: string;
// Until rich_output.json is read, or if it cannot be: text only.
const PLAIN_TEXT_ONLY: IRichOutputRules = {
  mime_types: { 'text/plain': { clean: null, why: 'shown as text' } },
  broken_url_schemes: []
};

export const ERROR_NAMES: Record<number, string> = {
  1: 'SyntaxError',
  2: 'LuaError',
  3: 'MemoryError',
  4: 'KeyboardInterrupt',
  5: 'ValueError',
  100: 'VMStopped'
};

export const STOPPED_BEFORE_IT_BEGAN = 'interrupted! The stop came before this cell began: none of it ran, and the Lua state is unchanged';

/** When the frontend sent a request (its header's date), in ms since the epoch; +Infinity if it does not say. */
export function sentTime(header: { date?: string } | undefined): number {
  const sent = Date.parse(header?.date ?? '');
  return Number.isNaN(sent) ? Infinity : sent;
}

/** The stop button's message when it had to restart the VM: why, and what was rolled back. */
export function interruptMessage(isolated: boolean, rolledBack: boolean): string {
  const why = isolated
    ? "the VM's memory could not be shared with this page (see the browser's console)"
    : `this page is not cross-origin isolated (its server did not send ${ISOLATION_HEADERS})`;
  const what = rolledBack
    ? 'its worker was ended and restarted, and the Lua state and external tables were rolled back to before this cell'
    : 'its worker was ended before it copied its memory, so the Lua state was reset; external tables are as the previous cell left them';
  return `interrupted! The VM cannot be stopped in place: ${why}; ${what}`;
}

/** The stop did not take in place within the escalation delay (interrupt.py's "stopped by force"). */
export function forcedStopMessage(rolledBack: boolean): string {
  const what = rolledBack
    ? 'the Lua state and external tables were rolled back to before this cell'
    : 'the Lua state was reset; external tables are as the previous cell left them';
  return `the cell was stopped by force: it did not stop within ${ESCALATE_AFTER_MS / 1000} s of the interrupt ` +
    `(a long call into C such as a pattern match, or a loop that swallows errors); its worker was ended and restarted, and ${what}`;
}

export interface ILuaKernelOptions extends IKernel.IOptions {
  memoryBytes: number;
  /** The notebook's folder under the site's files/ (require reads modules there), or null. */
  filesUrl: string | null;
  /** The notebook's path (external tables are kept per path); resolved at the first cell. */
  notebookPath: () => Promise<string>;
}

interface IRunning {
  id: number;
  silent: boolean;
  done: PromiseDelegate<{ result: IWireResult; payload: Array<Record<string, any>> }>;
}

export class LuaKernel extends BaseKernel {
  private worker: Worker | null = null;
  private started = new PromiseDelegate<void>();
  private banner = 'Lua 5.4 in WebAssembly (lua-wasm, browser host)';
  private nextId = 1;
  private hidden = 0;
  private running: IRunning | null = null;
  private stoppedAt = -Infinity; // the last stop press (ms since the epoch): it stops every cell sent before it
  private image: ArrayBuffer | undefined;
  private ids: Array<[number, Uint8Array]> | undefined;
  private storage = new ExtStorage();
  private saves = new TableSaves((changed, dropped) => this.storage.save(this.notebook ?? '', changed, dropped));
  private rescue: { image: ArrayBuffer; ids: Array<[number, Uint8Array]> } | undefined; // before this cell's first introspection
  private notices: string[] = []; // for the next cell's stderr: what happened between cells
  private notebook: string | null = null;
  private startError: string | null = null;
  private introspections = new Map<number, PromiseDelegate<unknown>>(); // resolved with null when the worker ended
  private sources = new Map<string, string>(); // chunk name -> code, for inspect's source
  // A cross-origin isolated page: the words shared with the worker, and the watcher over its memory.
  private control: ControlBlock | null = null;
  private watcher: PageWatcher | null = null;
  private output = new OutputStreams();
  private received = 0; // messages from the current worker (the watcher compares them with those posted)
  private sanitizer = new Sanitizer(); // what JupyterLab applies to untrusted HTML
  private richOutput = new RichOutput(PLAIN_TEXT_ONLY, html => this.sanitizer.sanitize(html));

  constructor(private readonly options: ILuaKernelOptions) {
    super(options);
    void this.boot();
  }

  /** Resolves once the VM started or failed to: a failure is every cell's error, never a silent kernel. */
  get ready(): Promise<void> {
    return this.started.promise.catch(() => undefined);
  }

  dispose(): void {
    this.watcher?.end();
    this.worker?.terminate();
    this.worker = null;
    super.dispose();
  }

  /**
   * Stops the running cell (the stop button): in place when the memory is
   * shared (the cell ends with "interrupted!", the state kept); else ends the
   * worker and restarts it from the cell's start.
   */
  interrupt(): void {
    this.stoppedAt = Date.now();
    const running = this.running;
    if (running === null) {
      // An introspection that runs (the watcher watches it only while it does), or one the page cannot stop.
      if (!this.watcher?.interrupt() && this.introspections.size > 0) {
        this.introspectionFailed('was stopped by the stop button');
      }
      return;
    }
    if (this.watcher?.interrupt()) {
      return;
    }
    this.running = null;
    const error = interruptMessage(this.control !== null, this.image !== undefined);
    this.restart();
    running.done.resolve({
      result: { status: 4, display: [], error },
      payload: []
    });
  }

  private async boot(): Promise<void> {
    try {
      this.notebook = await this.options.notebookPath();
      this.richOutput = new RichOutput(await loadRichOutputRules(), html => this.sanitizer.sanitize(html));
      const tables = await this.loadTables();
      await this.spawn({ type: 'start', memoryBytes: this.options.memoryBytes, filesUrl: this.options.filesUrl, tables });
      this.startError = null;
      this.started.resolve();
      console.debug(`lua-wasm: the VM started (external tables of "${this.notebook}": ${tables.length})`);
    } catch (e) {
      console.error('lua-wasm: the kernel could not start', e);
      this.startError = e instanceof Error ? e.message : String(e);
      this.started.reject(e);
    }
  }

  /** The notebook's external tables; none (logged) when IndexedDB cannot be read. */
  private async loadTables(): Promise<IStoredTable[]> {
    try {
      return await this.storage.load(this.notebook ?? '');
    } catch (e) {
      console.warn('lua-wasm: cannot read the external tables from IndexedDB; starting without them', e);
      return [];
    }
  }

  /** The stop did not take in place in time: the worker is ended and restarted from the cell's start. */
  private stopByForce(): void {
    const running = this.running;
    if (running === null) {
      return;
    }
    this.running = null;
    const rolledBack = this.image !== undefined;
    this.restart();
    running.done.resolve({ result: { status: 100, display: [], error: forcedStopMessage(rolledBack) }, payload: [] });
  }

  /** A new worker, started as `message` says; resolves when its VM is ready. */
  private spawn(message: IStartMessage): Promise<void> {
    const worker = new Worker(new URL('./worker.js', import.meta.url));
    this.worker = worker;
    this.watcher?.end();
    this.watcher = null;
    this.received = 0;
    // A fresh control block per worker: a worker ended while holding the lock must not block the next.
    this.control = self.crossOriginIsolated === true ? ControlBlock.create() : null;
    message = this.control === null ? message : { ...message, control: this.control.buffer };
    const ready = new PromiseDelegate<void>();
    worker.onmessage = (event: MessageEvent<FromWorker>) => this.onWorkerMessage(worker, event.data, ready);
    worker.onerror = event => {
      ready.reject(new Error(event.message));
      if (this.worker === worker && this.running !== null) {
        this.trapped(`the VM's worker failed: ${event.message}`); // not while starting: no restart loop
      }
    };
    worker.postMessage(message, message.image ? [message.image] : []);
    return ready.promise;
  }

  /** A new worker from the memory of the running cell's start, or `from` (a fresh state without one). */
  private restart(from: { image?: ArrayBuffer; ids?: Array<[number, Uint8Array]> } = { image: this.image, ids: this.ids }): Promise<void> {
    this.worker?.terminate();
    this.worker = null;
    for (const answer of this.introspections.values()) {
      answer.resolve(null); // its worker is gone: no completions, never no reply
    }
    this.introspections.clear();
    this.output.finish(); // what the ended worker sent of the cell's output
    const { image, ids } = from;
    this.image = undefined;
    this.rescue = undefined;
    this.started = new PromiseDelegate<void>();
    const restarted = this.loadTables()
      .then(tables => this.spawn({
          type: 'start',
          memoryBytes: this.options.memoryBytes,
          filesUrl: this.options.filesUrl,
          tables,
          image,
          ids
        }))
      .then(() => {
        this.startError = null;
        this.started.resolve();
      })
      .catch(e => {
        console.error('lua-wasm: the VM could not be restarted', e);
        this.startError = e instanceof Error ? e.message : String(e);
        this.started.reject(e);
      });
    return restarted;
  }

  /** The worker's memory is shared: a watcher over it, or none (logged) if it cannot read it. */
  private watch(shared: ISharedVM | null): void {
    if (shared === null || this.control === null) {
      return;
    }
    try {
      this.watcher = new PageWatcher(this.control, shared, {
        received: () => this.received,
        output: chunk => this.output.accept(chunk),
        outputStart: start => this.output.startAt(start),
        escalate: () =>
          this.running !== null
            ? this.stopByForce()
            : this.introspectionFailed(`did not stop within ${ESCALATE_AFTER_MS / 1000} s of its time limit`)
      });
    } catch (e) {
      console.error('lua-wasm: cannot watch the VM; the stop button will restart it', e);
    }
  }

  /**
   * An introspection ran out of time or trapped: the worker is restarted from
   * the memory posted before it (the last cell's state); its request and any
   * waiting answer "nothing found" (restart). Told on the console and the next cell's stderr.
   */
  private introspectionFailed(what: string): void {
    const rescue = this.rescue;
    const state = rescue !== undefined ? 'the Lua state is as the last cell left it' : 'the Lua state was reset';
    const notice = `lua-wasm: a completion or inspection (Tab, Shift-Tab) ran Lua that ${what}; ` +
      `its worker was ended and restarted, and ${state}`;
    console.warn(notice);
    this.notices.push(notice);
    this.restart(rescue ?? {});
  }

  private trapped(reason: string): void {
    const running = this.running;
    this.running = null;
    const what = this.image !== undefined ? 'rolled back to before this cell' : 'reset';
    this.restart();
    running?.done.resolve({
      result: {
        status: 100,
        display: [],
        error: `the VM trapped (${reason}); the Lua state was ${what}, and external tables are as the previous cell left them`
      },
      payload: []
    });
  }

  private onWorkerMessage(worker: Worker, message: FromWorker, ready: PromiseDelegate<void>): void {
    if (worker !== this.worker) {
      return; // a worker already ended
    }
    this.received += 1;
    const running = this.running;
    switch (message.type) {
      case 'ready':
        this.banner = message.banner;
        this.watch(message.shared);
        ready.resolve();
        return;
      case 'failed':
        ready.reject(new Error(message.error));
        return;
      case 'rescue':
        this.rescue = { image: message.image, ids: message.ids };
        return;
      case 'trapped':
        if (this.introspections.has(message.id)) {
          this.introspectionFailed(`trapped (${message.reason})`);
          return;
        }
        break;
      case 'introspected':
      case 'inspected':
        this.introspections.get(message.id)?.resolve(message.type === 'inspected' ? message.reply : message.value);
        this.introspections.delete(message.id);
        return;
    }
    if (running === null || message.id !== running.id) {
      return;
    }
    switch (message.type) {
      case 'image':
        this.image = message.image;
        this.ids = message.ids;
        break;
      case 'output':
        this.output.accept(message.chunk);
        break;
      case 'input_request':
        this.inputRequest({ prompt: message.prompt, password: message.password });
        break;
      case 'iopub':
        this.sendIopub(message.msgType, message.content);
        break;
      case 'done':
        this.running = null;
        this.watcher?.end();
        this.output.finish();
        // Written before the reply: a reload right after the cell finds them.
        this.saves
          .flush(message.changed, message.dropped)
          .then(warning => {
            if (warning !== null) {
              console.error(warning);
              this.tell(warning, running.silent);
            }
          })
          .then(() => running.done.resolve({ result: message.result, payload: message.payload }));
        break;
      case 'trapped':
        this.trapped(message.reason);
        break;
    }
  }

  /** `text` on the running cell's stderr; a silent cell's waits for the next one. */
  private tell(text: string, silent: boolean): void {
    if (silent) {
      this.notices.push(text.trimEnd());
    } else {
      this.stream({ name: 'stderr', text });
    }
  }

  private sendIopub(msgType: string, content: Record<string, any>): void {
    if (msgType === 'display_data' || msgType === 'update_display_data') {
      const { data, refused } = this.richOutput.clean(content.data ?? {});
      for (const why of refused) {
        this.stream({ name: 'stderr', text: `${why}\n` });
      }
      if (Object.keys(data).length === 0) {
        return;
      }
      content = { ...content, data };
    }
    if (msgType === 'display_data') {
      this.displayData(content as KernelMessage.IDisplayDataMsg['content']);
    } else if (msgType === 'update_display_data') {
      this.updateDisplayData(content as KernelMessage.IUpdateDisplayDataMsg['content']);
    } else if (msgType === 'clear_output') {
      this.clearOutput(content as KernelMessage.IClearOutputMsg['content']);
    }
  }

  async kernelInfoRequest(): Promise<KernelMessage.IInfoReplyMsg['content']> {
    return {
      implementation: 'lua-wasm',
      implementation_version: '0.1.0',
      language_info: {
        name: 'lua',
        version: '5.4',
        mimetype: 'text/x-lua',
        file_extension: '.lua',
        codemirror_mode: 'lua',
        pygments_lexer: 'lua'
      },
      protocol_version: '5.3',
      status: 'ok',
      banner: this.banner,
      help_links: [{ text: 'Lua 5.4 Reference Manual', url: 'https://www.lua.org/manual/5.4/' }]
    };
  }

  async executeRequest(
    content: KernelMessage.IExecuteRequestMsg['content']
  ): Promise<KernelMessage.IExecuteReplyMsg['content']> {
    const sentAt = sentTime(this.parentHeader);
    await this.ready;
    const silent = Boolean(content.silent);
    const stored = content.store_history !== false && !silent;
    const count = this.executionCount;
    if (sentAt <= this.stoppedAt) {
      // The stop was pressed after the frontend sent this cell but before its eval began
      // (the page still waited for the VM or for the message): it stops this cell too.
      const evalue = STOPPED_BEFORE_IT_BEGAN;
      const error = { ename: ERROR_NAMES[4], evalue, traceback: [evalue] };
      if (!silent) {
        this.publishExecuteError(error);
      }
      return { status: 'error', execution_count: count, ...error } as KernelMessage.IExecuteReplyMsg['content'];
    }
    if (this.startError !== null || this.worker === null) {
      const evalue = `the Lua VM could not start: ${this.startError ?? 'no worker'}; restart the kernel`;
      const error = { ename: 'VMStopped', evalue, traceback: [evalue] };
      if (!silent) {
        this.publishExecuteError(error);
      }
      return { status: 'error', execution_count: count, ...error } as KernelMessage.IExecuteReplyMsg['content'];
    }
    const chunkName = stored ? `[cell ${count}]` : `[hidden ${++this.hidden}]`;
    this.sources.set(chunkName, content.code);
    const running: IRunning = { id: this.nextId++, silent, done: new PromiseDelegate() };
    this.running = running;
    this.image = undefined; // until this cell's arrives: never roll back to an older cell's
    this.rescue = undefined; // the cell changes the state: the next introspection posts it again
    if (!silent && this.notices.length) {
      this.stream({ name: 'stderr', text: this.notices.join('\n') + '\n' });
      this.notices = [];
    }
    this.output.begin(null, silent ? null : (stream, text) => this.stream({ name: stream === 2 ? 'stderr' : 'stdout', text }));
    this.watcher?.begin(running.id);
    this.worker!.postMessage({
      type: 'execute',
      id: running.id,
      code: content.code,
      chunkName,
      silent,
      allowStdin: Boolean(content.allow_stdin)
    });
    const { result, payload } = await running.done.promise;
    if (result.status !== 0) {
      let evalue = result.error ?? '';
      if (result.status === 3) {
        evalue = `${evalue}; the VM's memory limit is ${this.options.memoryBytes} bytes: raise it with ` +
          '"luaWasmMemoryLimit" in jupyter-lite.json\'s jupyter-config-data, then restart the kernel';
      }
      const error = {
        ename: ERROR_NAMES[result.status] ?? 'LuaError',
        evalue,
        traceback: [evalue, result.traceback ?? ''].filter(line => line)
      };
      if (!silent) {
        this.publishExecuteError(error);
      }
      return { status: 'error', execution_count: count, ...error } as KernelMessage.IExecuteReplyMsg['content'];
    }
    if (result.display.length && !silent) {
      this.publishExecuteResult({
        execution_count: count,
        data: { 'text/plain': result.display.join('\t') },
        metadata: {}
      });
    }
    return { status: 'ok', execution_count: count, user_expressions: {}, payload } as KernelMessage.IExecuteReplyMsg['content'];
  }

  /** A helper of lua_wasm_kernel/lua/introspect.lua, run in the VM: its first value if a string. */
  private introspect(fn: 'complete' | 'is_complete', args: string[]): Promise<string | null> {
    return this.ask<string>(id => ({ type: 'introspect', id, fn, args }));
  }

  /**
   * Sends an introspection to the worker and waits for its answer (null:
   * nothing found), for INTROSPECTION_TIME_MAX_SECONDS at most: then the
   * watcher stops it, or the worker is restarted. JupyterLite's kernel client
   * handles one request at a time, so no cell runs meanwhile.
   */
  private async ask<T>(message: (id: number) => ToWorker): Promise<T | null> {
    await this.ready;
    const worker = this.worker;
    if (worker === null) {
      return null;
    }
    const id = this.nextId++;
    const answer = new PromiseDelegate<unknown>();
    this.introspections.set(id, answer);
    const limitMs = INTROSPECTION_TIME_MAX_SECONDS * 1000;
    const watcher = this.watcher;
    let timer: ReturnType<typeof setTimeout> | null = null;
    if (watcher !== null) {
      watcher.begin(id, limitMs);
    } else {
      timer = setTimeout(() => {
        if (this.worker === worker && this.introspections.has(id)) {
          this.introspectionFailed(`ran for more than ${INTROSPECTION_TIME_MAX_SECONDS} s`);
        }
      }, limitMs);
    }
    worker.postMessage(message(id));
    try {
      return (await answer.promise) as T | null;
    } finally {
      if (timer !== null) {
        clearTimeout(timer);
      }
      if (this.watcher === watcher && this.running === null) {
        watcher?.end();
      }
    }
  }

  async completeRequest(
    content: KernelMessage.ICompleteRequestMsg['content']
  ): Promise<KernelMessage.ICompleteReplyMsg['content']> {
    return complete(content.code, content.cursor_pos, (path, sep, prefix) =>
      this.introspect('complete', [path, sep, prefix])
    );
  }

  async inspectRequest(
    content: KernelMessage.IInspectRequestMsg['content']
  ): Promise<KernelMessage.IInspectReplyMsg['content']> {
    // In the worker (inspect.ts), as the Python kernel's inspect.py; sources only for the detail that shows them.
    const detailLevel = content.detail_level ?? 0;
    const sources = detailLevel >= 1 ? this.sources : new Map<string, string>();
    const reply = await this.ask<IInspectReply>(id => ({
      type: 'inspect', id, code: content.code, cursor: content.cursor_pos, detailLevel, sources
    }));
    return reply ?? notFound();
  }

  async isCompleteRequest(
    content: KernelMessage.IIsCompleteRequestMsg['content']
  ): Promise<KernelMessage.IIsCompleteReplyMsg['content']> {
    return isComplete(content.code, code => this.introspect('is_complete', [code]));
  }

  async commInfoRequest(
    content: KernelMessage.ICommInfoRequestMsg['content']
  ): Promise<KernelMessage.ICommInfoReplyMsg['content']> {
    return { status: 'ok', comms: {} };
  }

  /** The input box's answer to the worker's input_request: the worker waits for it on the control block. */
  inputReply(content: KernelMessage.IInputReplyMsg['content']): void {
    if (content.status === 'ok') {
      this.control?.answerInput(InputState.REPLIED, new TextEncoder().encode(content.value));
    } else {
      this.control?.answerInput(InputState.END);
    }
  }

  async commOpen(msg: KernelMessage.ICommOpenMsg): Promise<void> {}
  async commMsg(msg: KernelMessage.ICommMsgMsg): Promise<void> {}
  async commClose(msg: KernelMessage.ICommCloseMsg): Promise<void> {}
}

/** rich_output.json's rules; text only (logged) if they cannot be read: no display is ever shown unchecked. */
async function loadRichOutputRules(): Promise<IRichOutputRules> {
  try {
    const response = await fetch(new URL('rich_output.json', new URL(__webpack_public_path__, location.href)));
    if (!response.ok) {
      throw new Error(`HTTP ${response.status}`);
    }
    return RichOutput.parseRules(await response.text());
  } catch (e) {
    console.error('lua-wasm: cannot read rich_output.json; displays show text only', e);
    return PLAIN_TEXT_ONLY;
  }
}
