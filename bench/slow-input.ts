/**
 * A large input arriving slowly: `npx tsx bench/slow-input.ts [rounds]`. Each round starts a
 * fresh central and ship1, sends central a 10,000-message input over its socket in 64 KB writes
 * 25 ms apart (about 0.5 s, as over a slow link), and prints the ms from the last byte written to
 * the first line in ship1's result file (the first message delivered) and to the answer lines.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BenchEnv } from './lib/env.js';

const rounds = Number(process.argv[2] ?? 1);
for (let round = 1; round <= rounds; round++) {
  const env = new BenchEnv();
  try {
    const central = await env.startNode('central', 'slow-central');
    const ship1 = await env.startNode('ship1', 'slow-ship1', ['-startSubREQErrorLog=false']);
    await sleep(500); // subscriptions reach the broker (see B1)
    const messages = Array.from({ length: 10_000 }, (_, i) => ({
      toNode: 'ship1',
      method: 'REQToFileAppend',
      data: [`slow ${i}\n`],
      directory: 'slow',
      fileName: 'f.txt',
    }));
    const input = Buffer.from(JSON.stringify(messages));
    const c = net.connect(central.socketPath);
    await new Promise((resolve, reject) => {
      c.once('connect', resolve);
      c.once('error', reject);
    });
    let answer = '';
    const answered = new Promise<number>((resolve) => {
      c.on('data', (b: Buffer) => (answer += b.toString()));
      c.on('end', () => resolve(performance.now()));
    });
    for (let at = 0; at < input.length; at += 64 * 1024) {
      c.write(input.subarray(at, at + 64 * 1024));
      await sleep(25);
    }
    const last = performance.now();
    c.end();
    const file = path.join(ship1.dataDir, 'slow', 'ship1', 'f.txt');
    let firstMs: number | undefined;
    while (firstMs === undefined) {
      if (fs.existsSync(file) && fs.statSync(file).size > 0) firstMs = Math.round(performance.now() - last);
      else await sleep(1);
    }
    const answerMs = Math.round((await answered) - last);
    const accepted = answer.split('\n').filter((l) => l.includes('"accepted"')).length;
    process.stdout.write(`round ${round}: first delivery ${firstMs} ms, answer ${answerMs} ms after the last byte; ${accepted} accepted\n`);
  } finally {
    await env.close();
  }
}
