// Runs Lua chunks in wasmoon (Lua 5.4 compiled by emscripten) for bench_engine.py.
//   node benchmarks/wasmoon_engine.js CACHE_DIR
// CACHE_DIR holds node_modules/wasmoon (installed there by bench_engine.py, never
// in the repository). Protocol, one JSON object per line each way:
//   in:  {"code": "...", "gc": true}
//   out: {"value": ..., "wall": seconds, "cpu": seconds} or {"error": "..."}
// "gc" runs a full collectgarbage() before the timed chunk, as the other engines do.
// Times are taken here, around doStringSync alone, so the pipe is not measured;
// cpu is this process's user+system time (node's helper threads are idle then).
'use strict';
const path = require('path');
const readline = require('readline');

async function main() {
    const dir = process.argv[2];
    const wasmoon = require(path.join(dir, 'node_modules', 'wasmoon'));
    const version = require(path.join(dir, 'node_modules', 'wasmoon', 'package.json')).version;
    const lua = await new wasmoon.LuaFactory().createEngine();
    process.stdout.write(JSON.stringify({ ready: true, version, node: process.version }) + '\n');
    const rl = readline.createInterface({ input: process.stdin });
    for await (const line of rl) {
        let reply;
        try {
            const req = JSON.parse(line);
            if (req.gc) lua.doStringSync('collectgarbage()');
            const c0 = process.cpuUsage();
            const w0 = process.hrtime.bigint();
            const value = lua.doStringSync(req.code);
            const w1 = process.hrtime.bigint();
            const c1 = process.cpuUsage(c0);
            reply = { value: value === undefined ? null : value, wall: Number(w1 - w0) / 1e9,
                      cpu: (c1.user + c1.system) / 1e6 };
        } catch (e) {
            reply = { error: String(e && e.message || e) };
        }
        process.stdout.write(JSON.stringify(reply) + '\n');
    }
    lua.global.close();
}

main().catch((e) => { process.stderr.write(String(e && e.stack || e) + '\n'); process.exit(1); });
