// External tables in IndexedDB, per notebook path: read when a VM starts,
// written after each cell (the tables it changed, the names it dropped), so
// they survive a page reload and a kernel restart.

import type { IStoredTable } from './ext_tables';

const DB_NAME = 'lua-wasm-ext-tables';
const STORE = 'tables';
const DB_VERSION = 1;

interface IRecord {
  notebook: string;
  name: string; // the name's bytes as a binary string (the key)
  table: IStoredTable;
}

function nameKey(name: Uint8Array): string {
  let s = '';
  for (const b of name) {
    s += String.fromCharCode(b);
  }
  return s;
}

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/**
 * The tables of `notebook` among records read back from IndexedDB. Any page
 * of the site's origin can write there (another kernel's code too), so a
 * record is kept only if it has the shape save() writes and its key names
 * the table it holds (else a dropped table could come back under another
 * key); the table's bytes are checked by ExtStore.load.
 */
export function storedTables(records: unknown, notebook: string): IStoredTable[] {
  const tables: IStoredTable[] = [];
  for (const record of Array.isArray(records) ? records : []) {
    const r = record as Partial<IRecord> | null;
    const table = r?.table as Partial<IStoredTable> | undefined;
    if (
      r?.notebook === notebook &&
      typeof r.name === 'string' &&
      table?.name instanceof Uint8Array &&
      Array.isArray(table.items) &&
      nameKey(table.name) === r.name
    ) {
      tables.push(table as IStoredTable);
    } else {
      console.warn('lua-wasm: a stored external-table record is malformed; skipped');
    }
  }
  return tables;
}

export class ExtStorage {
  private db: Promise<IDBDatabase> | null = null;

  private open(): Promise<IDBDatabase> {
    if (this.db === null) {
      const req = indexedDB.open(DB_NAME, DB_VERSION);
      req.onupgradeneeded = () => {
        const store = req.result.createObjectStore(STORE, { keyPath: ['notebook', 'name'] });
        store.createIndex('notebook', 'notebook');
      };
      this.db = request(req);
      this.db.catch(() => (this.db = null)); // a failed open is tried again at the next save
    }
    return this.db;
  }

  async load(notebook: string): Promise<IStoredTable[]> {
    const db = await this.open();
    const store = db.transaction(STORE, 'readonly').objectStore(STORE);
    return storedTables(await request(store.index('notebook').getAll(notebook)), notebook);
  }

  async save(notebook: string, changed: IStoredTable[], dropped: Uint8Array[]): Promise<void> {
    if (changed.length === 0 && dropped.length === 0) {
      return;
    }
    const db = await this.open();
    const tx = db.transaction(STORE, 'readwrite');
    const store = tx.objectStore(STORE);
    for (const table of changed) {
      store.put({ notebook, name: nameKey(table.name), table } as IRecord);
    }
    for (const name of dropped) {
      store.delete([notebook, nameKey(name)]);
    }
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  }
}
