// require from the site's files: the host functions search_module and
// read_module (lua_wasm_kernel/lua/require.lua), with the rules of
// lua_wasm_kernel/modules.py: a relative `.lua` name with no hidden part,
// inside the notebook's folder, read over HTTP from the site's files/ (a
// synchronous request: the VM's worker waits, as Lua's require does).
// Files made in the browser (kept in its storage, not on the site) are not found.

import { Fetch, confinedName, syncFetch } from './files';
import { LuaValue } from './format';
import { HostCallError } from './host_calls';

export const MODULE_SIZE_MAX_BYTES = 16 * 1024 * 1024;
const MODULE_SUFFIX = '.lua';

/** `filename` relative to the folder, normalized, if it may name a module there; else null. */
export function moduleName(filename: string): string | null {
  const relative = confinedName(filename);
  const last = relative?.split('/').pop() ?? '';
  return last.endsWith(MODULE_SUFFIX) && last.length > MODULE_SUFFIX.length ? relative : null;
}

function text(value: LuaValue): string {
  if (typeof value === 'string') {
    return value;
  }
  if (value instanceof Uint8Array) {
    return new TextDecoder().decode(value);
  }
  throw new HostCallError(`expected a string, got ${value === null ? 'nil' : typeof value}`);
}

export class SiteModules {
  /** `folderUrl`: the notebook's folder under the site's files/ (ending in '/'), or null: no files. */
  constructor(
    private readonly folderUrl: string | null,
    private readonly fetch: Fetch = syncFetch
  ) {}

  /** package.searchpath: the first file among `path`'s templates, or the "no file" messages. */
  search(name: LuaValue, path: LuaValue, sep: LuaValue, rep: LuaValue): string | string[] {
    let n = text(name);
    const s = sep === null ? '.' : text(sep);
    if (s) {
      n = n.split(s).join(rep === null ? '/' : text(rep));
    }
    const tried: string[] = [];
    for (const template of text(path).split(';')) {
      const filename = template.split('?').join(n);
      if (this.url(filename) !== null && this.fetch(this.url(filename)!, true).status === 200) {
        return filename;
      }
      tried.push(`no file '${filename}'`);
    }
    return tried;
  }

  /** The bytes of a module file found by search. */
  read(filename: LuaValue): Uint8Array {
    const name = text(filename);
    const url = this.url(name);
    if (url === null) {
      throw new HostCallError(`cannot read '${name}' (not a file inside the notebook's folder)`);
    }
    const { status, body } = this.fetch(url, false);
    if (status !== 200 || body === null) {
      throw new HostCallError(`cannot read '${name}': HTTP ${status}`);
    }
    if (body.length > MODULE_SIZE_MAX_BYTES) {
      throw new HostCallError(`'${name}' is larger than ${MODULE_SIZE_MAX_BYTES} bytes`);
    }
    return body;
  }

  private url(filename: string): string | null {
    const relative = moduleName(filename);
    return relative === null || this.folderUrl === null ? null : this.folderUrl + relative;
  }
}
