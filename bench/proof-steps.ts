/**
 * What the proofs cost one message, in one process: `npx tsx bench/proof-steps.ts`.
 *
 * One exchange is what both nodes do for a message besides delivering it: the sender seals it and
 * makes its NATS headers, the receiver reads the headers back, opens it and makes its ACK, the
 * sender checks the ACK. The same exchange runs with trust on (two nodes that know each other's
 * keys, a MAC) and with trust off. The headers are made with nats.js's `set()` in both,
 * so that the figures are those of the proofs alone and the script runs on older commits too.
 *
 * Warm: 20,000 exchanges a round, twelve rounds of each setting alternating, the median round.
 * Cold: each step of 60 exchanges of each, alternating, after 60 ms of sleep and a write over 8 MB
 * (as between B1's samples: the caches then hold other data), p50 per step. In one process the
 * receiver's MAC runs right after the sender's, so its code is warm there; in B1 each runs in
 * another process.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { MsgHdrsImpl } from '@nats-io/transport-node';
import { trustOn, TRUST_OFF, type Trust } from '../src/trust/trust.js';
import { keyedNode } from '../test/support/unit-trust.js';

const central = keyedNode('central');
const ship1 = keyedNode('ship1');
central.keyring.check('ship1', ship1.pair.publicKey);
ship1.keyring.check('central', central.pair.publicKey);
const settings: Record<'on' | 'off', [Trust, Trust]> = {
  on: [trustOn(central.proofs), trustOn(ship1.proofs)],
  off: [TRUST_OFF, TRUST_OFF],
};
const payload = randomBytes(400);
const subject = 'ship1.REQCliCommand.CommandACK';
type Steps = { seal: number[]; open: number[]; ack: number[] };

/** One exchange; with `t`, each step's time in µs. */
function exchange([sender, receiver]: [Trust, Trust], i: number, t?: Steps): void {
  let at = process.hrtime.bigint();
  const lap = (step: keyof Steps): void => {
    const now = process.hrtime.bigint();
    t?.[step].push(Number(now - at) / 1000);
    at = now;
  };
  const sealed = sender.seal(subject, 'ship1', payload, { serial: 'json' });
  const h = new MsgHdrsImpl();
  for (const [k, v] of Object.entries(sealed.headers)) h.set(k, v);
  const wire = h.encode();
  lap('seal');
  const got = MsgHdrsImpl.decode(wire);
  const header = (name: string): string => got.get(name) ?? '';
  const opened = receiver.open(subject, payload, header);
  if (!opened.ok) throw new Error(opened.error);
  header('serial');
  header('cmp');
  const id = `M${i}`;
  const ack = receiver.sealAck({ id, status: 'ok' }, 'central', id, opened.key, opened.ackProof);
  lap('open');
  const back = sender.openAck(Buffer.from(ack), 'ship1', id, sealed);
  if (typeof back === 'string') throw new Error(back);
  lap('ack');
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

try {
  const warm: Record<'on' | 'off', number[]> = { on: [], off: [] };
  for (let round = 0; round < 12; round++) {
    for (const k of ['on', 'off'] as const) {
      const n = 20_000;
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) exchange(settings[k], i);
      warm[k].push(Number(process.hrtime.bigint() - t0) / 1000 / n);
    }
  }
  const on = median(warm.on);
  const off = median(warm.off);
  console.log(
    `warm: ${on.toFixed(2)} µs per exchange with trust on, ${off.toFixed(2)} with trust off: the proofs ${(on - off).toFixed(2)} µs`,
  );

  const cold: Record<'on' | 'off', Steps> = { on: { seal: [], open: [], ack: [] }, off: { seal: [], open: [], ack: [] } };
  const flush = Buffer.alloc(8 << 20);
  for (let i = 0; i < 60; i++) {
    for (const k of i % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
      await sleep(60);
      for (let j = 0; j < flush.length; j += 64) flush[j] = j;
      exchange(settings[k], i, cold[k]);
    }
  }
  for (const step of ['seal', 'open', 'ack'] as const) {
    const a = median(cold.on[step]);
    const b = median(cold.off[step]);
    console.log(`cold ${step.padEnd(4)}: ${a.toFixed(1)} µs with trust on, ${b.toFixed(1)} with trust off (p50 of 60)`);
  }
} finally {
  central.close();
  ship1.close();
}
