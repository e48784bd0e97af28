import { gzipSync } from 'node:zlib';
import { encode as cborEncode } from 'cbor-x';
import type { Message } from '../../src/message/message.js';
import { FIELDS, KIND_OF, METHODS, STRINGS, makeSafePairs, put, seedWireMessages, traversals, type FuzzContext } from './corpus.js';
import { Raw, fuzzValue, hugeString, mutateBytes } from './mutate.js';
import { pickProofMode, STRANGER, type ProofMode } from './proofs.js';
import type { Rng } from './rng.js';
import type { Canary, CaseOptions, NatsCase } from './types.js';

/**
 * Payloads published straight on the nodes' subjects, as a node (or anyone allowed on the
 * broker) could: random bytes, wire messages valid or not, odd headers, compression bombs. Most
 * are proven as a real node (see proofs.ts), so they reach the decoder and what comes after it.
 */

const DEEP_MARK = '\u00a7DEEP\u00a7';
const clone = <T>(v: T): T => structuredClone(v);

export function natsCase(index: number, rng: Rng, o: CaseOptions): NatsCase {
  const c = o.ctx;
  const id = (): string => `FZ${o.seed}x${index}x${rng.hex(8)}`;
  if (rng.chance(0.12)) {
    const k: Canary = { tag: `CANARY-${o.seed}-${index}-0`, kind: 'append', strict: true, via: 'target' };
    const m = canaryWire(c, k, id());
    const e = encodeWire(rng, m);
    return {
      path: 'nats',
      index,
      gen: `canary/${e.form}`,
      subject: `${c.target}.REQToFileAppend.EventACK`,
      payload: e.payload,
      headers: e.headers,
      sends: rng.chance(0.2) ? 2 : 1,
      canary: k,
      // A canary is proven as central, which may ask the target for anything.
      proof: rng.chance(0.5) ? 'mac' : 'sig',
      signer: c.central,
      variant: 0,
    };
  }
  const method = rng.pick(METHODS);
  const subject = rng.weighted<() => string>([
    [70, () => `${c.target}.${method}.${KIND_OF[method] ?? 'EventACK'}`],
    [
      8,
      () =>
        `${c.central}.${rng.pick(['REQErrorLog.EventACK', 'REQHello.EventNACK', 'REQToFileAppend.EventACK', 'REQCliCommand.CommandACK'])}`,
    ],
    [6, () => `${c.target}.${method}.${rng.pick(['CommandACK', 'CommandNACK', 'EventACK', 'EventNACK'])}`],
    [4, () => `${c.target}.${rng.pick(['REQnCliCommand', 'REQCopyFile', 'X', rng.word()])}.CommandACK`],
    // The relay's subject: central relays to the target (it runs with -startSubREQRelay=true).
    [6, () => `${c.target}.${c.central}.REQRelay.EventACK`],
  ])();
  const gen = rng.weighted<string>([
    [10, 'random-bytes'],
    [10, 'wire-valid'],
    [35, 'wire-struct'],
    [20, 'wire-bytes'],
    [8, 'wire-deep'],
    [7, 'wire-headers'],
    [4, 'bomb'],
    [10, 'wire-traversal'],
  ]);
  const proof: ProofMode = pickProofMode(rng);
  const signer = proof === 'stranger' ? STRANGER : rng.chance(0.75) ? c.central : c.target;
  const variant = rng.int(1000);
  const receiver = subject.split('.')[2] === 'REQRelay' ? c.central : (subject.split('.')[0] as string);
  const proven = {
    proof,
    signer,
    variant,
    // Another subject of the same node, or the same subject of the other node.
    ...(proof === 'other-subject'
      ? {
          proofSubject: rng.pick(
            [
              `${receiver}.REQNone.EventACK`,
              `${receiver}.REQPing.EventACK`,
              subject.replace(/^[^.]+/, (t) => (t === c.target ? c.central : c.target)),
            ].filter((s) => s !== subject),
          ),
        }
      : {}),
  };
  const seed = (): Message => {
    const s = clone(rng.pick(seedWireMessages(c)));
    s.id = id();
    // Mostly from the node that proves it; else the proof and the message disagree.
    s.fromNode = rng.chance(0.9) ? signer : rng.pick([c.central, c.target, STRANGER, c.ghost]);
    if (subject.endsWith('.REQRelay.EventACK')) {
      // What a node relaying through central publishes (see src/message/relay.ts).
      Object.assign(s, {
        method: 'REQRelay',
        toNode: c.central,
        relayToNode: c.target,
        relayFromNode: s.fromNode,
        relayOriginalMethod: rng.pick(['REQToFileAppend', 'REQCliCommand', 'REQNone', 'REQRelay']),
      });
    } else if (rng.chance(0.7)) s.method = subject.split('.')[1] ?? s.method;
    makeSafeWire(s, c);
    return s;
  };
  const done = (g: string, e: { payload: Buffer; headers: Record<string, string> }): NatsCase => ({
    path: 'nats',
    index,
    gen: g,
    subject,
    payload: e.payload,
    headers: e.headers,
    sends: 1,
    ...proven,
  });
  switch (gen) {
    case 'random-bytes':
      return done(gen, { payload: rng.bytes(rng.size(16_384)), headers: rng.chance(0.5) ? {} : fuzzHeaders(rng) });
    case 'wire-valid': {
      const e = encodeWire(rng, seed());
      return done(`${gen}/${e.form}`, e);
    }
    case 'wire-struct': {
      const m = seed() as unknown as Record<string, unknown>;
      for (let i = rng.range(1, 3); i > 0; i--) {
        const op = rng.int(6);
        if (op < 3) put(m, rng.pick(Object.keys(m)), wireValue(rng, c, o.maxPayload));
        else if (op === 3) delete m[rng.pick(Object.keys(m))];
        else if (op === 4)
          put(m, rng.pick(['extra', '__proto__', 'constructor', 'previousMessage', 'methodTimeout']), wireValue(rng, c, o.maxPayload));
        else
          m.previousMessage = {
            ...(typeof m.previousMessage === 'object' && m.previousMessage !== null ? m.previousMessage : {}),
            [rng.pick(['method', 'toNode', 'id', 'fromNode', 'directory', 'fileName', 'replyMethod'])]: wireValue(rng, c, o.maxPayload),
          };
      }
      makeSafeWire(m, c);
      const e = encodeWire(rng, m);
      return done(`${gen}/${e.form}`, e);
    }
    case 'wire-bytes': {
      const e = encodeWire(rng, seed());
      return done(`${gen}/${e.form}`, { payload: mutateBytes(rng, e.payload), headers: e.headers });
    }
    case 'wire-deep': {
      const m = seed() as unknown as Record<string, unknown>;
      const where = rng.pick(['previousMessage', 'extra', 'data', 'methodArgs', 'id', 'previousMessage.x']);
      if (where === 'previousMessage.x') m.previousMessage = { x: DEEP_MARK };
      else m[where] = DEEP_MARK;
      const depth = rng.pick([100, 2000, 8000, 20_000, 100_000]);
      const e = encodeWire(rng, m, depth);
      return done(`${gen}:${where}:${depth}/${e.form}`, e);
    }
    case 'wire-headers': {
      const e = encodeWire(rng, seed());
      return done(gen, { payload: e.payload, headers: fuzzHeaders(rng) });
    }
    case 'bomb': {
      if (rng.chance(0.5)) return done('bomb-gzip', { payload: o.gzipBomb(), headers: { cmp: 'g', serial: rng.pick(['cbor', 'json']) } });
      return done('bomb-zstd', { payload: zstdBomb(rng.pick([1000, 2049, 5000, 40_000])), headers: { cmp: 'z' } });
    }
    default: {
      // A well-formed message (a request or a reply) whose result path is hostile.
      const m = seed();
      m.method = rng.pick(['REQToFile', 'REQToFileAppend', 'REQPing', 'REQPong']);
      const reply = rng.chance(0.5);
      if (reply) m.isReply = true;
      if (reply || rng.chance(0.3))
        m.previousMessage = { ...wireMessageShape(c), ...hostilePrevious(rng, c) } as NonNullable<Message['previousMessage']>;
      if (rng.chance(0.7)) m.directory = rng.pick(traversals(c));
      // An empty fileName (as replies often have) makes the node name the file after the method.
      m.fileName = rng.weighted<() => string>([
        [4, () => ''],
        [4, () => rng.pick(traversals(c))],
        [2, () => m.fileName],
      ])();
      const e = encodeWire(rng, m);
      const published = `${c.target}.${m.method}.EventACK`;
      return {
        path: 'nats',
        index,
        gen: `wire-traversal${reply ? '-reply' : ''}/${e.form}`,
        subject: published,
        payload: e.payload,
        headers: e.headers,
        sends: 1,
        ...proven,
        // Published on a subject of its own: "another subject" must not be the one it goes to
        // (seed 147754404, input 768: proven for target.REQPing.EventACK and sent there).
        ...(proven.proofSubject === published ? { proofSubject: `${c.central}.${m.method}.EventACK` } : {}),
      };
    }
  }
}

function wireMessageShape(c: FuzzContext): Record<string, unknown> {
  const { data: _d, previousMessage: _p, ...rest } = seedWireMessages(c)[1] as Message;
  return rest;
}

/** Fields of a hostile previousMessage. */
function hostilePrevious(rng: Rng, c: FuzzContext): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const climbs = traversals(c).filter((t) => (t.match(/\.\.[/\\]/g) ?? []).length >= 3);
  for (const f of ['method', 'toNode', 'directory', 'fileName']) {
    if (rng.chance(0.6))
      out[f] = rng.weighted<() => string>([
        [4, () => rng.pick(climbs)],
        [3, () => rng.pick(traversals(c))],
        [3, () => rng.pick(STRINGS)],
      ])();
  }
  return out;
}

function wireValue(rng: Rng, c: FuzzContext, maxPayload: number): unknown {
  const r = rng.int(30);
  if (r < 3) return BigInt(rng.pick([0, 1, -1, 2 ** 53])) * BigInt(rng.pick([1, 1000]));
  if (r < 6) return rng.pick([NaN, Infinity, -Infinity, new Date(0), new Map([[1, 2]]), new Set(['a']), new Uint8Array([1, 2, 3]), /re/]);
  if (r < 7) return rng.chance(c.bigRate) ? hugeString(rng, Math.floor(maxPayload / 2)) : 'h'.repeat(rng.range(0, 5000));
  const v = fuzzValue(rng, c, rng.pick(FIELDS), maxPayload);
  return v instanceof Raw ? DEEP_MARK : v;
}

function makeSafeWire(m: Message | Record<string, unknown>, c: FuzzContext): void {
  const pairs = Object.entries(m);
  makeSafePairs(pairs, c);
  const o = m as Record<string, unknown>;
  for (const k of Object.keys(o)) delete o[k];
  for (const [k, v] of pairs) put(o, k, v);
}

function canaryWire(c: FuzzContext, k: Canary, id: string): Message {
  const m = seedWireMessages(c)[0] as Message;
  return { ...m, id, data: [`${k.tag}\n`], directory: c.canaryDir, fileName: 'lines.txt', replyMethod: 'REQNone' };
}

function fuzzHeaders(rng: Rng): Record<string, string> {
  const h: Record<string, string> = {};
  if (rng.chance(0.7)) h.serial = rng.pick(['cbor', 'json', '', 'CBOR', 'gob', 'xml', 'json ', 'cbor,json', '\u00e9']);
  if (rng.chance(0.7)) h.cmp = rng.pick(['', 'z', 'g', 'zz', 'G', 'Z', 'x', 'gzip', 'zstd', 'none', '\u00e9']);
  if (rng.chance(0.2)) h[rng.pick(['Nats-Msg-Id', 'X', 'serial2', 'Status'])] = rng.pick(['1', '503', '', 'x'.repeat(1000)]);
  return h;
}

/** Encodes a (maybe hostile) wire message as CBOR or JSON, maybe compressed; DEEP_MARK becomes `deep` levels of nesting. */
function encodeWire(rng: Rng, m: unknown, deep = 0): { form: string; payload: Buffer; headers: Record<string, string> } {
  const serial = rng.chance(0.65) ? 'cbor' : 'json';
  let payload: Buffer;
  if (serial === 'cbor') {
    payload = Buffer.from(cborEncode(m));
    if (deep > 0) {
      const mark = Buffer.from(cborEncode(DEEP_MARK));
      const at = payload.indexOf(mark);
      const nested = Buffer.concat([Buffer.alloc(deep, 0x81), Buffer.from([0xf6])]); // [[[...null]]]
      if (at >= 0) payload = Buffer.concat([payload.subarray(0, at), nested, payload.subarray(at + mark.length)]);
    }
  } else {
    let text: string;
    try {
      text = JSON.stringify(m, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v)) ?? 'null';
    } catch {
      text = '{}';
    }
    if (deep > 0) text = text.replace(JSON.stringify(DEEP_MARK), '['.repeat(deep) + ']'.repeat(deep));
    payload = Buffer.from(text);
  }
  const headers: Record<string, string> = rng.chance(0.85) || serial === 'json' ? { serial } : {};
  const cmp = rng.weighted<string>([
    [70, ''],
    [15, 'g'],
    [15, 'z'],
  ]);
  if (cmp === 'g') {
    payload = gzipSync(payload);
    headers.cmp = 'g';
  } else if (cmp === 'z') {
    payload = zstdFrameRaw(payload);
    headers.cmp = 'z';
  }
  return { form: `${serial}${cmp === '' ? '' : `+${cmp}`}`, payload, headers };
}

/** A valid zstd frame holding `data` in raw blocks (no compression library needed, synchronous). */
function zstdFrameRaw(data: Buffer): Buffer {
  const parts: Buffer[] = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38])]; // magic; no content size, no checksum; 128 KiB window
  const BLOCK = 128 * 1024;
  let pos = 0;
  do {
    const chunk = data.subarray(pos, pos + BLOCK);
    pos += chunk.length;
    const last = pos >= data.length ? 1 : 0;
    const h = (chunk.length << 3) | (0 << 1) | last;
    parts.push(Buffer.from([h & 0xff, (h >> 8) & 0xff, (h >> 16) & 0xff]), chunk);
  } while (pos < data.length);
  return Buffer.concat(parts);
}

/** `blocks` RLE blocks of 128 KiB: 4 bytes each on the wire. */
function zstdBomb(blocks: number): Buffer {
  const parts = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38])];
  const size = 128 * 1024;
  for (let i = 0; i < blocks; i++) {
    const h = (size << 3) | (1 << 1) | (i === blocks - 1 ? 1 : 0);
    parts.push(Buffer.from([h & 0xff, (h >> 8) & 0xff, (h >> 16) & 0xff, 0x41]));
  }
  return Buffer.concat(parts);
}
