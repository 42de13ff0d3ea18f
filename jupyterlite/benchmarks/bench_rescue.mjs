// What a Tab press after a cell costs the worker in the browser kernel: one
// copy of linear memory (LuaVM.saveImage), posted to the page before the
// first introspection after each cell. Interleaved sizes, CPU time of this
// (single-threaded) process, median of RUNS.
const RUNS = 15;
const SIZES_MIB = [2, 16, 64, 256];
const mems = SIZES_MIB.map(m => new WebAssembly.Memory({ initial: m * 16, maximum: m * 16, shared: true }));
for (const m of mems) new Uint8Array(m.buffer).fill(7); // touched, as a used heap
const times = SIZES_MIB.map(() => []);
for (let r = 0; r < RUNS; r++) {
  mems.forEach((m, i) => {
    const t0 = process.cpuUsage();
    const copy = new Uint8Array(m.buffer).slice();
    const t = process.cpuUsage(t0);
    if (copy[copy.length - 1] !== 7) throw new Error('bad copy');
    times[i].push((t.user + t.system) / 1000);
  });
}
SIZES_MIB.forEach((m, i) => {
  const s = times[i].sort((a, b) => a - b);
  console.log(`${m} MiB memory: saveImage ${s[s.length >> 1].toFixed(2)} ms CPU (median of ${RUNS}; min ${s[0].toFixed(2)})`);
});
