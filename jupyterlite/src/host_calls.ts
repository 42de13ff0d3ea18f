// Host calls: Lua calling named host functions (docs/ABI.md, "Host calls"),
// the mirror of lua_wasm_kernel/hostcall.py: lw_host_call runs the function
// and keeps its reply; lw_host_take copies it into the VM. Neither throws.

import { HOST_CALL_NAME_SIZE_MAX_BYTES } from './abi';
import { FormatError, HostValue, LuaValue, Reader, encode, lossyText, utf8 } from './format';
import { HostMemory } from './host_memory';

export type HostFunction = (...args: LuaValue[]) => HostValue;

/** An error meant for the Lua caller: its message becomes the Lua error as it is. */
export class HostCallError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HostCallError';
  }
}

const REPLY_SIZE_MAX_BYTES = 2 ** 31 - 2;
export const TAKE_OK = 0;
export const TAKE_REFUSED = -1;

export class HostCalls {
  readonly functions = new Map<string, HostFunction>();
  private reply: Uint8Array | null = null;

  constructor(private readonly mem: () => HostMemory) {}

  register(name: string, fn: HostFunction | null): void {
    if (utf8(name).length > HOST_CALL_NAME_SIZE_MAX_BYTES) {
      throw new RangeError(`host function name longer than ${HOST_CALL_NAME_SIZE_MAX_BYTES} bytes: ${name}`);
    }
    if (fn === null) {
      this.functions.delete(name);
    } else {
      this.functions.set(name, fn);
    }
  }

  /** lw_host_call: the reply's length, or -1 - length for an error message. */
  call(namePtr: number, nameLen: number, argsPtr: number, argsLen: number): number {
    this.reply = null; // one the engine never took
    try {
      if (nameLen >>> 0 > HOST_CALL_NAME_SIZE_MAX_BYTES) {
        throw new HostCallError(`host function name longer than ${HOST_CALL_NAME_SIZE_MAX_BYTES} bytes`);
      }
      const name = lossyText(this.read(namePtr, nameLen));
      const args = this.args(argsPtr, argsLen);
      const fn = this.functions.get(name);
      if (fn === undefined) {
        throw new HostCallError(`the host has no function '${name}'`);
      }
      let result: HostValue;
      try {
        result = fn(...args);
      } catch (e) {
        throw e instanceof HostCallError ? e : new HostCallError(e instanceof Error ? e.message || e.name : String(e));
      }
      const reply = encode(result);
      if (reply.length > REPLY_SIZE_MAX_BYTES) {
        throw new HostCallError(`the reply of '${name}' is too large (${reply.length} bytes)`);
      }
      this.reply = reply; // stored after the function ran
      return reply.length;
    } catch (e) {
      if (e instanceof HostCallError) {
        return this.error(e.message);
      }
      console.error('lua-wasm: host function failed', e);
      return this.error(e instanceof Error ? `${e.name}: ${e.message}` : String(e));
    }
  }

  /** lw_host_take: copies the pending reply when `dstLen` is its exact length; forgotten either way. */
  take(dstPtr: number, dstLen: number): number {
    const reply = this.reply;
    this.reply = null;
    try {
      if (reply === null || dstLen >>> 0 !== reply.length) {
        return TAKE_REFUSED;
      }
      if (reply.length) {
        this.mem().write(dstPtr, reply);
      }
      return TAKE_OK;
    } catch (e) {
      console.warn('lua-wasm: lw_host_take:', e);
      return TAKE_REFUSED;
    }
  }

  private read(ptr: number, len: number): Uint8Array {
    try {
      return this.mem().read(ptr, len);
    } catch (e) {
      throw new HostCallError(`host call: ${e instanceof Error ? e.message : e}`);
    }
  }

  private args(ptr: number, len: number): LuaValue[] {
    const reader = new Reader(this.read(ptr, len));
    const args: LuaValue[] = [];
    try {
      const count = reader.u32();
      for (let i = 0; i < count; i++) {
        args.push(reader.value());
      }
    } catch (e) {
      if (e instanceof FormatError) {
        throw new HostCallError(`host call: malformed arguments (${e.message})`);
      }
      throw e;
    }
    if (reader.offset !== reader.data.length) {
      throw new HostCallError('host call: malformed arguments (trailing bytes)');
    }
    return args;
  }

  private error(message: string): number {
    this.reply = utf8(message).slice(0, REPLY_SIZE_MAX_BYTES);
    return -1 - this.reply.length;
  }
}
