// The external tables the cells changed or dropped, until IndexedDB took
// them (kernel.ts saves after each cell): a failed save is kept and retried
// with the next cell's, and its warning goes to the cell's stderr, as the
// Python kernel warns when it cannot save a table (persistence.py).

import { lossyText } from './format';
import type { IStoredTable } from './ext_tables';

function key(name: Uint8Array): string {
  let s = '';
  for (const b of name) {
    s += String.fromCharCode(b);
  }
  return s;
}

export class TableSaves {
  private changed = new Map<string, IStoredTable>();
  private dropped = new Map<string, Uint8Array>();

  constructor(private readonly save: (changed: IStoredTable[], dropped: Uint8Array[]) => Promise<void>) {}

  /** Tables or drops a failed save left, still to write. */
  get pending(): number {
    return this.changed.size + this.dropped.size;
  }

  /** Saves a cell's changes with any a failed save left; resolves with the warning for stderr, or null. */
  async flush(changed: IStoredTable[], dropped: Uint8Array[]): Promise<string | null> {
    for (const table of changed) {
      this.dropped.delete(key(table.name));
      this.changed.set(key(table.name), table);
    }
    for (const name of dropped) {
      this.changed.delete(key(name));
      this.dropped.set(key(name), name);
    }
    if (this.pending === 0) {
      return null;
    }
    const tables = [...this.changed.values()];
    const names = [...this.dropped.values()];
    try {
      await this.save(tables, names);
    } catch (e) {
      const why = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      const lines = [
        ...tables.map(t => `lua-wasm: cannot save the external table '${lossyText(t.name)}': ${why}`),
        ...names.map(n => `lua-wasm: cannot drop the saved external table '${lossyText(n)}': ${why}`),
        "the Lua state keeps them; saving is retried after the next cell, but a reload before then loses these changes"
      ];
      return lines.join('\n') + '\n';
    }
    this.changed.clear(); // the kernel saves one cell at a time: nothing was added meanwhile
    this.dropped.clear();
    return null;
  }
}
