// The lw_file_* imports (docs/ABI.md, "Files") in the browser: this host has
// no folder to offer yet, so every open, remove, rename and tmpname is EACCES
// (as the Python host's file_access "none"), and no handle exists (EBADF).
// Pointers and lengths are still checked (EINVAL), as lua_wasm_kernel/files.py does.

import { Errno } from './abi';
import { HostMemory } from './host_memory';

export function fileImports(mem: () => HostMemory): Record<string, (...args: any[]) => number | bigint> {
  const spanOk = (ptr: number, len: number): boolean => {
    try {
      mem().span(ptr, len);
      return true;
    } catch {
      return false;
    }
  };
  return {
    lw_file_open: (pathPtr: number, pathLen: number, modePtr: number, modeLen: number) =>
      spanOk(pathPtr, pathLen) && spanOk(modePtr, modeLen) ? -Errno.EACCES : -Errno.EINVAL,
    lw_file_read: (handle: number, dstPtr: number, dstCap: number) =>
      spanOk(dstPtr, dstCap) ? -Errno.EBADF : -Errno.EINVAL,
    lw_file_write: (handle: number, srcPtr: number, srcLen: number) =>
      spanOk(srcPtr, srcLen) ? -Errno.EBADF : -Errno.EINVAL,
    lw_file_seek: () => BigInt(-Errno.EBADF),
    lw_file_close: () => -Errno.EBADF,
    lw_file_remove: (pathPtr: number, pathLen: number) => (spanOk(pathPtr, pathLen) ? -Errno.EACCES : -Errno.EINVAL),
    lw_file_rename: (fromPtr: number, fromLen: number, toPtr: number, toLen: number) =>
      spanOk(fromPtr, fromLen) && spanOk(toPtr, toLen) ? -Errno.EACCES : -Errno.EINVAL,
    lw_file_tmpname: (dstPtr: number, dstCap: number) => (spanOk(dstPtr, dstCap) ? -Errno.EACCES : -Errno.EINVAL)
  };
}
