// is_complete_request, as lua_wasm_kernel/is_complete.py: the VM's `load`
// decides (introspect.lua's is_complete, as lua.c does for its prompt); an
// incomplete cell gets two spaces of indent per open block (lexer.ts).

import { openBlocks } from './lexer';

export const INDENT_UNIT = '  ';

export type IsCompleteReply =
  | { status: 'complete' | 'invalid' | 'unknown' }
  | { status: 'incomplete'; indent: string };

/** The content of an is_complete_reply; `lookup` asks the VM's introspect.is_complete. */
export async function isComplete(code: string, lookup: (code: string) => Promise<string | null>): Promise<IsCompleteReply> {
  const status = await lookup(code);
  if (status === 'incomplete') {
    return { status, indent: INDENT_UNIT.repeat(openBlocks(code)) };
  }
  return status === 'complete' || status === 'invalid' ? { status } : { status: 'unknown' };
}
