// What rich output may carry into the page, as lua_wasm_kernel/rich_output.py:
// the rules of lua_wasm_kernel/rich_output.json (copied into the extension at
// build time). The page applies them to every display before JupyterLab
// renders it as trusted output: a refused MIME type is dropped (and named),
// text/html goes through the sanitizer the kernel gives (JupyterLab's own),
// text/markdown through `neutralize` and text/latex through `breakScriptUrls`,
// the text rules both hosts share (tests/shared/rich_output_cases.json).

export interface IRichOutputRules {
  mime_types: Record<string, { clean: 'html' | 'markdown' | 'latex' | null; why: string }>;
  broken_url_schemes: string[];
}

export type Bundle = Record<string, unknown>;

/** `<` stays only before what cannot start a tag; `&` is escaped where it starts a character reference (as Python's). */
const TAG_OR_ENTITY_START = /<(?![ \t\n\r\f\v0-9=<>()-]|$)|&(?=[A-Za-z0-9#])/g;

export class RichOutput {
  private readonly schemes: RegExp;

  constructor(
    readonly rules: IRichOutputRules,
    private readonly sanitizeHtml: (html: string) => string
  ) {
    const gap = '[\\x00-\\x20\\\\]*';
    const words = rules.broken_url_schemes
      .map(scheme => [...scheme].map(c => c.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&')).join(gap))
      .join('|');
    this.schemes = new RegExp(`(?<![A-Za-z0-9+.\\-])((?:${words})${gap}):`, 'gi');
  }

  /** The rules from rich_output.json's text; throws a TypeError if its shape is wrong. */
  static parseRules(text: string): IRichOutputRules {
    const raw = JSON.parse(text);
    const types = raw?.mime_types;
    const schemes = raw?.broken_url_schemes;
    if (typeof types !== 'object' || types === null || !Array.isArray(schemes) || !schemes.every(s => /^[a-z]+$/.test(s))) {
      throw new TypeError('rich_output.json lacks mime_types or broken_url_schemes');
    }
    for (const [mime, rule] of Object.entries(types as Record<string, any>)) {
      if (![null, 'html', 'markdown', 'latex'].includes(rule?.clean)) {
        throw new TypeError(`rich_output.json: ${mime} has an unknown clean rule`);
      }
    }
    return { mime_types: types, broken_url_schemes: schemes };
  }

  /** Why `mime` may not be sent (the Python host's words), or null if it may. */
  refusal(mime: string): string | null {
    if (Object.prototype.hasOwnProperty.call(this.rules.mime_types, mime)) {
      return null;
    }
    return (
      `display: '${mime}' is refused: the notebook renders it as trusted output, where it could run ` +
      `script in the page; allowed types: ${Object.keys(this.rules.mime_types).join(', ')}`
    );
  }

  /** The bundle with refused types dropped (their refusals listed) and the text types cleaned. */
  clean(bundle: Bundle): { data: Bundle; refused: string[] } {
    const data: Bundle = {};
    const refused: string[] = [];
    for (const [mime, value] of Object.entries(bundle)) {
      const why = this.refusal(mime);
      if (why !== null) {
        refused.push(why);
        continue;
      }
      const how = this.rules.mime_types[mime].clean;
      if (how !== null && typeof value !== 'string') {
        refused.push(`display: '${mime}' data must be text`);
        continue;
      }
      const text = value as string;
      data[mime] =
        how === 'html' ? this.sanitizeHtml(text) : how === 'markdown' ? this.neutralize(text) : how === 'latex' ? this.breakScriptUrls(text) : value;
    }
    return { data, refused };
  }

  /** text with no tag, entity or script URL left for a markdown or MathJax renderer (rich_output.py's neutralize). */
  neutralize(text: string): string {
    return this.breakScriptUrls(text.replace(TAG_OR_ENTITY_START, m => (m === '<' ? '&lt;' : '&amp;')));
  }

  /** The colon of javascript:, vbscript: and data: URLs becomes %3A (text/latex's rule; rich_output.py's). */
  breakScriptUrls(text: string): string {
    return text.replace(this.schemes, '$1%3A');
  }
}
