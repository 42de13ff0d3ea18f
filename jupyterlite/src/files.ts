// The lw_file_* imports (docs/ABI.md, "Files") in the browser: the notebook's
// folder as the site serves it under files/, read-only (the Python host's
// file_access "read"): r/rb opens fetch the whole file with a synchronous
// request from the worker, anything that writes is EROFS, a name outside the
// folder or hidden is EACCES (confine.py's rules). Pointers and lengths are
// checked (EINVAL), handles too (EBADF), as lua_wasm_kernel/files.py does.

import { Errno } from './abi';
import { HostMemory } from './host_memory';

export type Fetch = (url: string, head: boolean) => { status: number; body: Uint8Array | null };

const OPEN_FILES_MAX = 64;
const READ_SIZE_MAX_BYTES = 1024 * 1024; // per lw_file_read, as files.py
const FILE_SIZE_MAX_BYTES = 256 * 1024 * 1024;
// Open files live in the worker's memory, not the VM's: the distinct files the
// handles hold together are capped (EMFILE past it), and handles of one file
// share its bytes, so 64 opens of a large file hold one copy, not 64.
const FILES_HELD_SIZE_MAX_BYTES = FILE_SIZE_MAX_BYTES;
const PATH_SIZE_MAX_BYTES = 4096;
const MODE = /^[rwa]\+?b*$/;

/** `name` relative to the folder, normalized and URL-encoded, if it stays inside and shows nothing hidden. */
export function confinedName(name: string): string | null {
  if (!name || name.length > PATH_SIZE_MAX_BYTES || name.includes('\0')) {
    return null;
  }
  if (name.startsWith('/') || name.startsWith('\\') || name.startsWith('~') || /^[A-Za-z]:/.test(name)) {
    return null;
  }
  const parts: string[] = [];
  for (const part of name.replace(/\\/g, '/').split('/')) {
    if (part === '' || part === '.') {
      continue;
    }
    if (part === '..') {
      if (parts.length === 0) {
        return null; // above the notebook's folder
      }
      parts.pop();
      continue;
    }
    if (part.startsWith('.')) {
      return null; // hidden
    }
    parts.push(part);
  }
  return parts.length ? parts.map(encodeURIComponent).join('/') : null;
}

export function syncFetch(url: string, head: boolean): { status: number; body: Uint8Array | null } {
  const xhr = new XMLHttpRequest();
  xhr.open(head ? 'HEAD' : 'GET', url, false);
  if (!head) {
    xhr.responseType = 'arraybuffer';
  }
  try {
    xhr.send();
  } catch {
    return { status: 0, body: null };
  }
  return { status: xhr.status, body: head || !xhr.response ? null : new Uint8Array(xhr.response as ArrayBuffer) };
}

type FileImport = (...args: any[]) => number | bigint;

/** No exception leaves an import (it would trap the VM): one becomes EIO, logged (docs/ABI.md, "Imports"). */
function guardedImports(imports: Record<string, FileImport>): Record<string, FileImport> {
  const guarded: Record<string, FileImport> = {};
  for (const [name, fn] of Object.entries(imports)) {
    guarded[name] = (...args: any[]) => {
      try {
        return fn(...args);
      } catch (e) {
        console.error(`lua-wasm: ${name} failed`, e);
        return name === 'lw_file_seek' ? BigInt(-Errno.EIO) : -Errno.EIO;
      }
    };
  }
  return guarded;
}

interface IOpenFile {
  url: string;
  data: Uint8Array;
  position: number;
}

export class SiteFiles {
  private readonly handles = new Map<number, IOpenFile>();

  /** `folderUrl`: the notebook's folder under the site's files/ (ending in '/'), or null: no files. */
  constructor(
    private readonly folderUrl: string | null,
    private readonly fetch: Fetch = syncFetch
  ) {}

  /** A new instance: the old one's handles are gone (docs/ABI.md, "Files"). */
  closeAll(): void {
    this.handles.clear();
  }

  imports(mem: () => HostMemory): Record<string, FileImport> {
    const span = (ptr: number, len: number): [number, number] | null => {
      try {
        return mem().span(ptr, len);
      } catch {
        return null;
      }
    };
    // A name that is not UTF-8 names no file of the site (a lossy decoding would alias another).
    const text = (ptr: number, len: number): string | null => {
      try {
        return new TextDecoder('utf-8', { fatal: true }).decode(mem().read(ptr, len));
      } catch {
        return null;
      }
    };
    return guardedImports({
      lw_file_open: (pathPtr: number, pathLen: number, modePtr: number, modeLen: number) => {
        if (span(pathPtr, pathLen) === null || span(modePtr, modeLen) === null) {
          return -Errno.EINVAL;
        }
        const mode = text(modePtr, modeLen);
        if (mode === null || !MODE.test(mode)) {
          return -Errno.EINVAL;
        }
        if (mode[0] !== 'r' || mode.includes('+') || (pathLen >>> 0) === 0) {
          return -Errno.EROFS; // writing, or tmpfile(): this folder is read-only
        }
        const path = text(pathPtr, pathLen);
        return path === null ? -Errno.ENOENT : this.open(path);
      },
      lw_file_read: (handle: number, dstPtr: number, dstCap: number) => {
        const dst = span(dstPtr, dstCap);
        if (dst === null) {
          return -Errno.EINVAL;
        }
        const file = this.handles.get(handle >>> 0);
        if (file === undefined) {
          return -Errno.EBADF;
        }
        const n = Math.max(0, Math.min(dst[1], READ_SIZE_MAX_BYTES, file.data.length - file.position));
        if (n > 0) {
          mem().write(dst[0], file.data.subarray(file.position, file.position + n));
          file.position += n;
        }
        return n;
      },
      lw_file_write: (handle: number, srcPtr: number, srcLen: number) => {
        if (span(srcPtr, srcLen) === null) {
          return -Errno.EINVAL;
        }
        return -Errno.EBADF; // every handle is read-only, as write(2) on O_RDONLY
      },
      lw_file_seek: (handle: number, offset: bigint, whence: number) => {
        const file = this.handles.get(handle >>> 0);
        if (file === undefined) {
          return BigInt(-Errno.EBADF);
        }
        const base = whence === 0 ? 0n : whence === 1 ? BigInt(file.position) : whence === 2 ? BigInt(file.data.length) : null;
        if (base === null || typeof offset !== 'bigint') {
          return BigInt(-Errno.EINVAL);
        }
        const position = base + offset;
        if (position < 0n || position > BigInt(Number.MAX_SAFE_INTEGER)) {
          return BigInt(-Errno.EINVAL);
        }
        file.position = Number(position);
        return position;
      },
      lw_file_close: (handle: number) => (this.handles.delete(handle >>> 0) ? 0 : -Errno.EBADF),
      lw_file_remove: (pathPtr: number, pathLen: number) =>
        span(pathPtr, pathLen) === null ? -Errno.EINVAL : -Errno.EROFS,
      lw_file_rename: (fromPtr: number, fromLen: number, toPtr: number, toLen: number) =>
        span(fromPtr, fromLen) === null || span(toPtr, toLen) === null ? -Errno.EINVAL : -Errno.EROFS,
      lw_file_tmpname: (dstPtr: number, dstCap: number) => (span(dstPtr, dstCap) === null ? -Errno.EINVAL : -Errno.EROFS)
    });
  }

  private open(name: string): number {
    const relative = confinedName(name);
    if (relative === null || this.folderUrl === null) {
      return -Errno.EACCES;
    }
    if (this.handles.size >= OPEN_FILES_MAX) {
      return -Errno.EMFILE;
    }
    const url = this.folderUrl + relative;
    const shared = this.held(url);
    const { status, body } = shared !== null ? { status: 200, body: shared } : this.fetch(url, false);
    if (status === 404) {
      return -Errno.ENOENT;
    }
    if (status !== 200 || body === null) {
      return -Errno.EIO;
    }
    if (body.length > FILE_SIZE_MAX_BYTES) {
      return -Errno.EFBIG;
    }
    if (shared === null && this.heldBytes() + body.length > FILES_HELD_SIZE_MAX_BYTES) {
      return -Errno.EMFILE;
    }
    let handle = 0;
    while (handle === 0 || this.handles.has(handle)) {
      handle = 1 + Math.floor(Math.random() * (2 ** 31 - 1)); // random: an old handle names no new file
    }
    this.handles.set(handle, { url, data: body, position: 0 });
    return handle;
  }

  /** The bytes an open handle already holds for `url`, or null. */
  private held(url: string): Uint8Array | null {
    for (const file of this.handles.values()) {
      if (file.url === url) {
        return file.data;
      }
    }
    return null;
  }

  /** Bytes of the distinct files the open handles hold. */
  private heldBytes(): number {
    const urls = new Map<string, number>();
    for (const file of this.handles.values()) {
      urls.set(file.url, file.data.length);
    }
    let total = 0;
    for (const n of urls.values()) {
      total += n;
    }
    return total;
  }
}
