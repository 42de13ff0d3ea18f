// The words the page's thread and the VM's worker share when the page is
// cross-origin isolated (a SharedArrayBuffer the kernel makes and hands to
// each worker it starts): the watcher's lock, which eval runs, host calls in
// progress, and the input box's reply. The mirror of interrupt.py's lock and
// counters, across two JavaScript threads (docs/ABI.md, "Hosts").

export const enum Word {
  /** 0 free, 1 held: linear memory's ring and stop hook are touched only under it. */
  LOCK = 0,
  /** The id of the execute request whose eval runs in the VM, 0 none (written under LOCK). */
  RUNNING = 1,
  /** The ring's read_index as that eval started (written with RUNNING). */
  RING_START = 2,
  /** Host imports running on the worker (JavaScript code: never stopped by force). */
  IN_HOST = 3,
  /** Counts host imports that returned: the page restarts its escalation clock when it moves. */
  HOST_LEFT = 4,
  /** The input box: InputState. */
  INPUT_STATE = 5,
  /** The reply's length in bytes (INPUT_REPLIED). */
  INPUT_LENGTH = 6,
  /** Messages the worker posted, counted before each post: the page consumes the ring only
   * when it received them all, so its output never overtakes a message still in flight. */
  POSTED = 7
}

const WORDS = 8;
/** What a site's server must send for the page to be cross-origin isolated. */
export const ISOLATION_HEADERS = '"Cross-Origin-Opener-Policy: same-origin" and "Cross-Origin-Embedder-Policy: require-corp"';
/** The longest line the input box hands to Lua (longer ones are refused with a message). */
export const INPUT_SIZE_MAX_BYTES = 64 * 1024;

export const enum InputState {
  IDLE = 0,
  WAITING = 1,
  REPLIED = 2,
  END = 3, // end of input: io.read returns nil
  INTERRUPTED = 4,
  TOO_LONG = 5
}

// The worker waits for the lock in slices this long (the page holds it for microseconds).
const LOCK_WAIT_MS = 5;

export class ControlBlock {
  readonly words: Int32Array;
  readonly input: Uint8Array;

  constructor(readonly buffer: SharedArrayBuffer) {
    if (buffer.byteLength !== ControlBlock.BYTES) {
      throw new RangeError(`a control block of ${buffer.byteLength} bytes, not ${ControlBlock.BYTES}`);
    }
    this.words = new Int32Array(buffer, 0, WORDS);
    this.input = new Uint8Array(buffer, WORDS * 4, INPUT_SIZE_MAX_BYTES);
  }

  static readonly BYTES = WORDS * 4 + INPUT_SIZE_MAX_BYTES;

  static create(): ControlBlock {
    return new ControlBlock(new SharedArrayBuffer(ControlBlock.BYTES));
  }

  get(word: Word): number {
    return Atomics.load(this.words, word);
  }

  set(word: Word, value: number): void {
    Atomics.store(this.words, word, value);
  }

  add(word: Word, delta: number): void {
    Atomics.add(this.words, word, delta);
  }

  /** The page's thread, which may not block: the lock if it is free now. */
  tryLock(): boolean {
    return Atomics.compareExchange(this.words, Word.LOCK, 0, 1) === 0;
  }

  /** The worker: waits for the lock. */
  lock(): void {
    while (Atomics.compareExchange(this.words, Word.LOCK, 0, 1) !== 0) {
      Atomics.wait(this.words, Word.LOCK, 1, LOCK_WAIT_MS);
    }
  }

  unlock(): void {
    Atomics.store(this.words, Word.LOCK, 0);
    Atomics.notify(this.words, Word.LOCK);
  }

  /** The worker: waits until the input box's state leaves WAITING. */
  waitForInput(): InputState {
    for (;;) {
      const state = Atomics.load(this.words, Word.INPUT_STATE);
      if (state !== InputState.WAITING) {
        return state as InputState;
      }
      Atomics.wait(this.words, Word.INPUT_STATE, InputState.WAITING);
    }
  }

  /** The page: answers a waiting input box once (false if none waits). */
  answerInput(state: InputState, line?: Uint8Array): boolean {
    if (Atomics.load(this.words, Word.INPUT_STATE) !== InputState.WAITING) {
      return false;
    }
    if (state === InputState.REPLIED && line !== undefined) {
      if (line.length > INPUT_SIZE_MAX_BYTES) {
        state = InputState.TOO_LONG;
      } else {
        this.input.set(line);
        this.set(Word.INPUT_LENGTH, line.length);
      }
    }
    if (Atomics.compareExchange(this.words, Word.INPUT_STATE, InputState.WAITING, state) !== InputState.WAITING) {
      return false;
    }
    Atomics.notify(this.words, Word.INPUT_STATE);
    return true;
  }
}
