// What inspect shows for the standard library, as stdlib_docs.py: the
// signature and description of each name, read from
// lua_wasm_kernel/stdlib_docs.json (copied into the extension at build time,
// the one owner of these facts for both hosts). The file comes over the
// network, so its shape is checked before use.

export class StdlibDocs {
  private constructor(
    private readonly docs: Map<string, [string, string]>,
    private readonly manualUrl: string
  ) {}

  /** No docs at all: inspect still describes the user's functions and values. */
  static empty(): StdlibDocs {
    return new StdlibDocs(new Map(), 'https://www.lua.org/manual/5.4/manual.html');
  }

  /** The docs from stdlib_docs.json's text; throws a TypeError if its shape is wrong. */
  static parse(json: string): StdlibDocs {
    const data: unknown = JSON.parse(json);
    if (typeof data !== 'object' || data === null) {
      throw new TypeError('stdlib_docs.json is not an object');
    }
    const { manual_url: manualUrl, docs } = data as Record<string, unknown>;
    if (typeof manualUrl !== 'string' || typeof docs !== 'object' || docs === null) {
      throw new TypeError('stdlib_docs.json lacks manual_url or docs');
    }
    const entries = new Map<string, [string, string]>();
    for (const [name, doc] of Object.entries(docs)) {
      if (!Array.isArray(doc) || doc.length !== 2 || typeof doc[0] !== 'string' || typeof doc[1] !== 'string') {
        throw new TypeError(`stdlib_docs.json: the entry of ${name} is not [signature, description]`);
      }
      entries.set(name, [doc[0], doc[1]]);
    }
    return new StdlibDocs(entries, manualUrl);
  }

  get size(): number {
    return this.docs.size;
  }

  /** The signature and description of a standard name (`string.format`, `file:write`). */
  lookup(name: string): [string, string] | null {
    return this.docs.get(name) ?? null;
  }

  /** The manual's anchor for a standard name. */
  manualLink(name: string): string {
    return `${this.manualUrl}#pdf-${name}`;
  }
}
