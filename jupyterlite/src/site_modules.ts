// require from the site's files: the host functions search_module and
// read_module (lua_wasm_kernel/lua/require.lua), with the rules of
// lua_wasm_kernel/modules.py: a relative `.lua` name with no hidden part,
// inside the notebook's folder, read over HTTP from the site's files/ (a
// synchronous request: the VM's worker waits, as Lua's require does).
// Files made in the browser (kept in its storage, not on the site) are not found.

import { Fetch, confinedName, syncFetch } from './files';
import { LuaValue } from './format';
import { SEARCH_NAMES_SIZE_MAX_CHARS } from './abi';
import { HostCallError } from './host_calls';

export { SEARCH_NAMES_SIZE_MAX_CHARS };

export const MODULE_SIZE_MAX_BYTES = 16 * 1024 * 1024;
const MODULE_SUFFIX = '.lua';

/** `filename` relative to the folder, normalized, if it may name a module there; else null. */
export function moduleName(filename: string): string | null {
  const relative = confinedName(filename);
  const last = relative?.split('/').pop() ?? '';
  return last.endsWith(MODULE_SUFFIX) && last.length > MODULE_SUFFIX.length ? relative : null;
}

/** The length of `s` with every `from` replaced by `to`, without building it. */
function replacedLength(s: string, from: string, to: string): number {
  let count = 0;
  for (let at = s.indexOf(from); at >= 0; at = s.indexOf(from, at + from.length)) {
    count += 1;
  }
  return s.length + count * (to.length - from.length);
}

function checkSearchSize(chars: number): void {
  if (chars > SEARCH_NAMES_SIZE_MAX_CHARS) {
    throw new HostCallError(`package.searchpath: the file names to try exceed ${SEARCH_NAMES_SIZE_MAX_CHARS} characters`);
  }
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
    // Strings that are not UTF-8 decode to bytes (format.ts): they name no file of the site,
    // and their lossy text (for the messages) must not fetch another file's.
    const opaque = [name, path, sep, rep].some(v => v instanceof Uint8Array);
    let n = text(name);
    const s = sep === null ? '.' : text(sep);
    if (s) {
      const r = rep === null ? '/' : text(rep);
      checkSearchSize(replacedLength(n, s, r));
      n = n.split(s).join(r);
    }
    const tried: string[] = [];
    let size = 0;
    for (const template of text(path).split(';')) {
      size += replacedLength(template, '?', n) + 10; // as "no file '...'"
      checkSearchSize(size);
      const filename = template.split('?').join(n);
      const url = opaque ? null : this.url(filename);
      if (url !== null && this.fetch(url, true).status === 200) {
        return filename;
      }
      tried.push(`no file '${filename}'`);
    }
    return tried;
  }

  /** The bytes of a module file found by search. */
  read(filename: LuaValue): Uint8Array {
    const name = text(filename);
    const url = filename instanceof Uint8Array ? null : this.url(name);
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
