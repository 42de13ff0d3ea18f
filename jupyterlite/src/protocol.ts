// The messages between the kernel (page) and its VM worker.

import type { IStoredTable } from './ext_tables';
import type { IInspectReply } from './inspect';
import type { IOutputChunk } from './output_ring';
import type { ISharedVM } from './page_watcher';

export interface IStartMessage {
  type: 'start';
  memoryBytes: number;
  filesUrl?: string | null; // the notebook's folder under the site's files/, for require
  tables: IStoredTable[];
  image?: ArrayBuffer; // restart from the memory of a cell's start
  ids?: Array<[number, Uint8Array]>; // the external-table ids that image's proxies hold
  control?: SharedArrayBuffer; // a cross-origin isolated page: the control block (control_block.ts)
}

export interface IExecuteMessage {
  type: 'execute';
  id: number;
  code: string;
  chunkName: string;
  silent: boolean;
  allowStdin: boolean;
}

/** Calls a helper of lua_wasm_kernel/lua/introspect.lua (complete, is_complete) with string arguments. */
export interface IIntrospectMessage {
  type: 'introspect';
  id: number;
  fn: 'complete' | 'is_complete';
  args: string[];
}

/** An inspect_request (inspect.ts): cursor in code points; sources by chunk name, for detail level 1. */
export interface IInspectMessage {
  type: 'inspect';
  id: number;
  code: string;
  cursor: number;
  detailLevel: number;
  sources: Map<string, string>;
}

export type ToWorker = IStartMessage | IExecuteMessage | IIntrospectMessage | IInspectMessage;

export interface IWireResult {
  status: number;
  display: string[];
  error?: string;
  traceback?: string;
}

export type FromWorker =
  // `shared`: the VM's memory is shared with the page (its watcher: page_watcher.ts)
  | { type: 'ready'; banner: string; shared: ISharedVM | null }
  | { type: 'failed'; error: string }
  // the memory as a cell starts, and the table ids it holds: what an interrupt rolls back to
  | { type: 'image'; id: number; image: ArrayBuffer; ids: Array<[number, Uint8Array]> }
  | { type: 'output'; id: number; chunk: IOutputChunk } // raw bytes: the page orders and decodes them
  | { type: 'input_request'; id: number; prompt: string; password: boolean } // the worker waits on the control block
  | { type: 'iopub'; id: number; msgType: string; content: Record<string, any> }
  | {
      type: 'done';
      id: number;
      result: IWireResult;
      payload: Array<Record<string, any>>;
      changed: IStoredTable[];
      dropped: Uint8Array[];
    }
  // the memory before an introspection, once after each cell: what a stuck or trapped one restarts from
  | { type: 'rescue'; image: ArrayBuffer; ids: Array<[number, Uint8Array]> }
  | { type: 'trapped'; id: number; reason: string } // a cell's or an introspection's eval; the instance is dropped
  | { type: 'introspected'; id: number; value: string | null }
  | { type: 'inspected'; id: number; reply: IInspectReply };
