import path from 'node:path';
import { ConfiguredNatsServer } from '../test/support/nats-configured.js';
import { b1Message, readOr } from './b1-roundtrip.js';
import { anyDead, sendTimed, sleep, whenTrue, type BenchEnv } from './lib/env.js';
import { median, round } from './lib/stats.js';
import type { Varz } from './wire-size.js';

export interface B7Setting {
  /** e.g. "json, z (zstd)". */
  setting: string;
  serialization: 'cbor' | 'json';
  compression: '' | 'g' | 'z';
  /** Per B1 exchange (command, its ACK, reply, its ACK), medians over the samples: /varz differences. */
  inBytes: number;
  outBytes: number;
  inMsgs: number;
  outMsgs: number;
  /** (inBytes + outBytes) / the same for JSON uncompressed. */
  ratioToJson: number;
}

/** The settings quick mode runs: JSON uncompressed (the reference), CBOR with gzip, JSON with zstd. */
const QUICK = new Set(['json/', 'cbor/g', 'json/z']);

export interface B7Result {
  samples: number;
  settings: B7Setting[];
}

/**
 * Bytes through the broker per B1 exchange for every -serialization x -compression: a
 * nats-server of its own with monitoring (`http:`, as `-m` does), so only this exchange is
 * counted; for each setting a fresh central and ship1 (hello off) and `samples` exchanges, /varz
 * read before and after each one.
 */
export async function runB7(env: BenchEnv, quick: boolean): Promise<B7Result> {
  // Loaded here: wire-size.ts pulls in the codec from src/, which the other benchmarks do not need.
  const { SETTINGS, label } = await import('./wire-size.js');
  // Quick mode only checks that each serialization and each compression still runs.
  const run = quick ? SETTINGS.filter((o) => QUICK.has(`${o.serialization}/${o.compression}`)) : SETTINGS;
  const samples = quick ? 2 : 10;
  const warmup = quick ? 1 : 2;
  const nats = await ConfiguredNatsServer.start('b7', (p) => `listen: 127.0.0.1:${p.client}\nhttp: 127.0.0.1:${p.http}\n`);
  env.atClose(() => nats.close());
  const settings: B7Setting[] = [];
  try {
    for (const o of run) {
      const tag = `${o.serialization}-${o.compression || 'none'}`;
      const flags = [`-serialization=${o.serialization}`, `-compression=${o.compression}`];
      const [central, ship1] = await Promise.all([
        env.startNode('central', `b7-${tag}-central`, flags, `127.0.0.1:${nats.ports.client}`),
        env.startNode('ship1', `b7-${tag}-ship1`, ['-startSubREQErrorLog=false', ...flags], `127.0.0.1:${nats.ports.client}`),
      ]);
      try {
        await sleep(quick ? 300 : 500); // subscriptions reach the broker (see B1)
        const resultDir = path.join(central.dataDir, 'b7', 'ship1');
        const per = { inBytes: [] as number[], outBytes: [] as number[], inMsgs: [] as number[], outMsgs: [] as number[] };
        for (let i = 0; i < warmup + samples; i++) {
          // Same-length file names, so every exchange carries the same number of bytes.
          const fileName = `s${String(i).padStart(3, '0')}.txt`;
          const file = path.join(resultDir, fileName);
          const before = await nats.monitor<Varz>('varz');
          const sent = await sendTimed(central.socketPath, JSON.stringify(b1Message('b7', fileName)));
          await whenTrue(() => readOr(file) === 'hi\n', {
            watchDir: resultDir,
            timeoutMs: 30_000,
            what: `B7 (${tag}) exchange ${i}`,
            failed: () => anyDead(central, ship1),
          });
          await sent.answer;
          // The reply's ACK left central before the file was written; let the broker count it.
          await sleep(100);
          const after = await nats.monitor<Varz>('varz');
          if (i < warmup) continue;
          per.inBytes.push(after.in_bytes - before.in_bytes);
          per.outBytes.push(after.out_bytes - before.out_bytes);
          per.inMsgs.push(after.in_msgs - before.in_msgs);
          per.outMsgs.push(after.out_msgs - before.out_msgs);
        }
        settings.push({
          setting: label(o),
          serialization: o.serialization,
          compression: o.compression,
          inBytes: median(per.inBytes),
          outBytes: median(per.outBytes),
          inMsgs: median(per.inMsgs),
          outMsgs: median(per.outMsgs),
          ratioToJson: Number.NaN,
        });
      } finally {
        await env.stopNodes(central, ship1);
      }
    }
  } finally {
    await nats.close();
  }
  const json = settings.find((s) => s.serialization === 'json' && s.compression === '');
  if (json === undefined) throw new Error('B7: no JSON uncompressed figure');
  for (const s of settings) s.ratioToJson = round((s.inBytes + s.outBytes) / (json.inBytes + json.outBytes), 3);
  return { samples, settings };
}
