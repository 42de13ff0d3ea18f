// Copies the engine the Python package builds (lua_wasm_kernel/lua.wasm and
// its Lua modules), the standard library's docs (stdlib_docs.json, which
// inspect shows) and what rich output may carry into the page
// (rich_output.json, which kernel.ts applies to every display) into the built extension's static folder, where the worker
// loads them: one module and one set of facts, two hosts (tests/lite compares
// the bytes).
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const kernel = join(here, '..', '..', 'lua_wasm_kernel');
const target = join(here, '..', 'lua_wasm_jupyterlite', 'labextension', 'static');
const wasm = join(kernel, 'lua.wasm');
if (!existsSync(wasm)) {
  console.error(`${wasm} does not exist: build it first with \`python hatch_build.py\` in the repository's root`);
  process.exit(1);
}
if (!existsSync(target)) {
  console.error(`${target} does not exist: run \`jupyter labextension build .\` first`);
  process.exit(1);
}
mkdirSync(join(target, 'lua'), { recursive: true });
copyFileSync(wasm, join(target, 'lua.wasm'));
for (const name of ['display', 'require', 'introspect']) {
  copyFileSync(join(kernel, 'lua', `${name}.lua`), join(target, 'lua', `${name}.lua`));
}
for (const name of ['stdlib_docs.json', 'rich_output.json']) {
  copyFileSync(join(kernel, name), join(target, name));
}
console.log(`copied lua.wasm, the Lua modules, stdlib_docs.json and rich_output.json into ${target}`);
