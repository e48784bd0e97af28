/**
 * How long `spawn()` holds the event loop against how much memory the parent holds:
 * `npx tsx bench/spawn-rss.ts [MB...]` (default 0 100 250). For each size a fresh `node` process
 * allocates about that much live heap, then spawns `bash -c "echo hi"` 60 times, 20 ms apart (the
 * first 10 dropped), and prints its RSS, the p50 of the time spawn() blocked and of the whole run
 * of the child. Node (libuv) forks: the fork copies the parent's page tables, so the time grows with
 * the parent's memory (docs/latency.md).
 */
import { execFileSync } from 'node:child_process';

const CHILD = `
const { spawn } = require('node:child_process');
const mb = Number(process.argv[1]);
const keep = Array.from({ length: mb * 6500 }, (_, i) => ({ i, s: 'x' + i }));
(async () => {
  const blocked = [], whole = [];
  for (let i = 0; i < 60; i++) {
    const t = performance.now();
    await new Promise((r) => {
      const c = spawn('bash', ['-c', 'echo hi']);
      if (i >= 10) blocked.push(performance.now() - t);
      c.stdout.on('data', () => {});
      c.on('close', r);
    });
    if (i >= 10) whole.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 20));
  }
  const p50 = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)].toFixed(2);
  console.log(JSON.stringify({ rssMB: Math.round(process.memoryUsage().rss / 1048576), blocked: p50(blocked), whole: p50(whole), kept: keep.length }));
})();
`;

const sizes = process.argv.slice(2).map(Number);
console.log('| heap asked | RSS | spawn() blocked, p50 | child run to its close, p50 |');
console.log('|---|---|---|---|');
for (const mb of sizes.length > 0 ? sizes : [0, 100, 250]) {
  const out = execFileSync(process.execPath, ['-e', CHILD, String(mb)], { encoding: 'utf8' });
  const r = JSON.parse(out) as { rssMB: number; blocked: string; whole: string };
  console.log(`| ${mb} MB | ${r.rssMB} MB | ${r.blocked} ms | ${r.whole} ms |`);
}
