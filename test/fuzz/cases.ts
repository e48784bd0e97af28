import { stringify as yamlStringify } from 'yaml';
import { parseInput } from '../../src/message/parse.js';
import { METHOD_NAMES } from '../../src/methods/registry.js';
import {
  FIELDS,
  NUMBERS,
  STRINGS,
  makeSafe,
  makeSafePairs,
  put,
  seedMessages,
  traversals,
  unsafeReason,
  type FuzzContext,
  type InputObject,
} from './corpus.js';
import { Pairs, deepText, emit, hugeString, jsonSafe, mutateBytes, mutateObject, serialize } from './mutate.js';
import { Rng } from './rng.js';
import type { Auth, Canary, Case, CaseOptions, Framing, HttpShape, NodeRole, Path, TextCase, TextPath } from './types.js';
import { natsCase } from './wire.js';

/**
 * The inputs of a run: input N of a seed is made by its own generator, always the same bytes.
 * Documents for the socket, TCP, HTTP and the watched folder are made here; NATS payloads in
 * wire.ts.
 */
export * from './types.js';

export function canaryMessage(c: FuzzContext, k: Canary): InputObject {
  return k.kind === 'append'
    ? {
        toNode: c.target,
        method: 'REQToFileAppend',
        data: [`${k.tag}\n`],
        directory: c.canaryDir,
        fileName: 'lines.txt',
        replyMethod: 'REQNone',
        ACKTimeout: 10,
        retries: 5,
      }
    : {
        toNode: c.target,
        method: 'REQCliCommand',
        methodArgs: ['echo', k.tag],
        directory: c.cliCanaryDir,
        fileName: 'lines.txt',
        ACKTimeout: 10,
        retries: 5,
        replyRetries: 5,
      };
}

const clone = <T>(v: T): T => structuredClone(v);

/** Input number `index` of the run: always the same for the same seed. */
export function makeCase(index: number, o: CaseOptions): Case {
  // An input that steward would turn into a harmful message is made again from another stream
  // (deterministically: the same seed and number always give the same input).
  let remade: string | undefined;
  for (let attempt = 0; ; attempt++) {
    const made = makeCaseFrom(attempt === 0 ? new Rng(o.seed, index) : new Rng(o.seed, index, attempt), index, o);
    // Byte mutations (the way two messages join) are made on small seeds only, and parsing a
    // big input here would stall the fuzzer's own sending: larger inputs are not checked.
    if (made.path === 'nats' || made.control || made.repeat > 1 || made.body.length > GATE_MAX_BYTES) return made;
    const why = attempt === MAX_ATTEMPTS ? undefined : harmful(made.body, o.ctx, made.node === 'central' ? o.ctx.central : o.ctx.target);
    if (why === undefined) return remade === undefined ? made : { ...made, remade };
    remade ??= why;
  }
}

const MAX_ATTEMPTS = 50;
const GATE_MAX_BYTES = 256 * 1024;

/** Why steward's own parser would accept a harmful message from this document (undefined: none). */
export function harmful(body: Buffer, c: FuzzContext, nodeName: string): string | undefined {
  const outcomes = parseInput(body, {
    nodeName,
    methods: METHOD_NAMES,
    defaultAckTimeoutMs: 5000,
    defaultRetries: 3,
    defaultMethodTimeoutMs: 10_000,
  });
  for (const o of outcomes) {
    const why = o.ok ? unsafeReason(o.message, c) : undefined;
    if (why !== undefined) return why;
  }
  return undefined;
}

function makeCaseFrom(rng: Rng, index: number, o: CaseOptions): Case {
  if (o.oversize.has(index)) return oversize(index, rng);
  const path = rng.weighted<Path>([
    [30, 'socket'],
    [18, 'tcp'],
    [20, 'http'],
    [10, 'folder'],
    [22, 'nats'],
  ]);
  return path === 'nats' ? natsCase(index, rng, o) : textCase(path, index, rng, o);
}

function textCase(path: TextPath, index: number, rng: Rng, o: CaseOptions): TextCase {
  const c = o.ctx;
  const node: NodeRole = rng.chance(0.7) ? 'central' : 'target';
  const newCanary = (k: number, strict: boolean): Canary => ({
    tag: `CANARY-${o.seed}-${index}-${k}`,
    kind: rng.chance(0.92) ? 'append' : 'cli',
    strict,
    via: node,
  });
  const auth = rng.weighted<Auth>([
    [94, 'token'],
    [3, 'none'],
    [3, 'wrong'],
  ]);
  const base = { path, index, node, repeat: 1, framing: framing(rng, path), control: false, ...shapeFor(path, rng, index) };
  // Only an input whose canaries need not arrive may go without the token.
  const withAuth = <T extends object>(x: T & { canaries: Canary[] }): T & { auth: Auth } => ({
    ...x,
    auth: x.canaries.length === 0 ? auth : 'token',
  });
  if (path === 'socket' && rng.chance(0.04))
    return { ...base, ...controlRequest(rng, c), canaries: [], firstIsCanary: false, control: true };
  // One input in eight is a canary alone: a good message between the bad ones.
  if (rng.chance(0.125)) {
    const k = newCanary(0, true);
    const { text } = serialize(rng, rng.chance(0.5) ? canaryMessage(c, k) : [canaryMessage(c, k)]);
    return withAuth({ ...base, gen: 'canary', body: Buffer.from(text), canaries: [k], firstIsCanary: true });
  }
  const doc = document(rng, o);
  const mode = rng.int(10);
  if (mode < 2 && doc.value !== undefined) {
    // A bad element between two canaries, in a document that parses as JSON: each element is
    // judged alone, so both canaries must be accepted and delivered. (When the bad element is
    // not valid JSON itself, the second canary may go down with it.)
    const [a, b] = [newCanary(0, true), newCanary(1, jsonSafe(doc.value))];
    const text = `[${emit(canaryMessage(c, a))},${emit(doc.value)},${emit(canaryMessage(c, b))}]`;
    return withAuth({ ...base, gen: `sandwich:${doc.gen}`, body: Buffer.from(text), canaries: [a, b], firstIsCanary: true });
  }
  if (mode < 4) {
    // Broken bytes between two canaries: the first must still be accepted; the second may be
    // lost with the broken element's structure, but never delivered twice.
    const [a, b] = [newCanary(0, true), newCanary(1, false)];
    const body = Buffer.concat([
      Buffer.from(`[${emit(canaryMessage(c, a))},\n`),
      doc.bytes,
      Buffer.from(`,\n${emit(canaryMessage(c, b))}]`),
    ]);
    return withAuth({ ...base, gen: `sandwich-bytes:${doc.gen}`, body, canaries: [a, b], firstIsCanary: true });
  }
  return withAuth({ ...base, gen: doc.gen, body: doc.bytes, canaries: [], firstIsCanary: false });
}

function framing(rng: Rng, path: TextPath): Framing {
  if (path !== 'socket' && path !== 'tcp') return 'halfclose';
  return rng.weighted<Framing>([
    [75, 'halfclose'],
    [12, 'chunks'],
    [9, 'noclose'],
    [4, 'abort'],
  ]);
}

function shapeFor(path: TextPath, rng: Rng, index: number): { http?: HttpShape; fileName?: string } {
  if (path === 'http') {
    const method = rng.weighted<string>([
      [90, 'POST'],
      [2, 'GET'],
      [2, 'PUT'],
      [1, 'DELETE'],
      [1, 'HEAD'],
      [1, 'OPTIONS'],
      [1, 'PATCH'],
      [2, 'post'],
    ]);
    // Messages go to /messages; other paths are answered 404 (without their body being read).
    const url = rng.chance(0.85)
      ? rng.pick(['/messages', '/messages', '/messages?x=1', '/messages?a=b&c'])
      : rng.pick(['/', '/../../etc/passwd', '/?x=1', `/${'a'.repeat(rng.pick([10, 8000]))}`, '/%00', '//x', '*', '/messages/x']);
    const headers: Record<string, string> = {};
    // A message document is JSON or YAML; other types are answered 415.
    const ct = rng.chance(0.85)
      ? rng.pick(['application/json', 'application/json; charset=utf-8', 'application/yaml', 'text/yaml', 'APPLICATION/JSON'])
      : rng.pick(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '', '\u00ff']);
    if (ct !== '') headers['content-type'] = ct;
    if (rng.chance(0.05)) headers.expect = '100-continue';
    if (rng.chance(0.03)) headers['content-length'] = String(300 * 1024 * 1024); // announces more than the cap
    if (rng.chance(0.03)) headers['content-encoding'] = rng.pick(['gzip', 'zstd', 'x']);
    let raw: Buffer | undefined;
    if (rng.chance(0.04)) {
      raw = Buffer.from(
        rng.pick([
          'GARBAGE\r\n\r\n',
          'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n',
          'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
          'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello',
          `POST /${'x'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
          'POST / HTTP/9.9\r\n\r\n',
          `POST / HTTP/1.1\r\nHost: x\r\n${'X-A: b\r\n'.repeat(3000)}\r\n`,
          'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n[]',
        ]),
      );
    }
    return { http: { method, url, headers, chunked: rng.chance(0.3), ...(raw === undefined ? {} : { raw }) } };
  }
  if (path === 'folder') {
    const ext = rng.pick(['.json', '.yaml', '.yml', '', '.txt', '.JSON', '.json.bak', '.error']);
    const stem = rng.weighted<string>([
      [80, `f${index}`],
      [5, `f${index} with spaces`],
      [5, `f${index}-ünïcødé-😀`],
      [3, `f${index}-${'x'.repeat(rng.range(200, 248 - String(index).length))}`],
      [3, `-f${index}`],
      [2, `f${index}\nnewline`],
      [2, `f${index}*?[]`],
    ]);
    return { fileName: `${stem}${ext}` };
  }
  return {};
}

/** A message document to fuzz with, as bytes, and as a value when it is one (for JSON sandwiches). */
function document(rng: Rng, o: CaseOptions): { gen: string; bytes: Buffer; value?: unknown } {
  const c = o.ctx;
  const seeds = seedMessages(c);
  // Byte-level mutations could turn a copy's destination (made safe before) into any path.
  const byteSeeds = seeds.filter((s) => !String(s.method).startsWith('REQCopyFile'));
  const seed = (from = seeds): InputObject => {
    let pick = rng.pick(from);
    // Commands cost the target a process each: half as many as their share.
    if (String(pick.method).startsWith('REQCliCommand') && rng.chance(0.5)) pick = rng.pick(from);
    const s = clone(pick);
    makeSafe(s, c);
    return s;
  };
  const mutated = (): InputObject | Pairs => {
    const m = mutateObject(rng, seed(), c, o.maxPayload);
    if (m instanceof Pairs) makeSafePairs(m.pairs, c);
    else makeSafe(m, c);
    return m;
  };
  const gen = rng.weighted<string>([
    [8, 'random-bytes'],
    [5, 'random-text'],
    [6, 'seed'],
    [20, 'seed-bytes'],
    [25, 'struct'],
    [8, 'array'],
    [5, 'deep'],
    [6, 'yaml'],
    [3 * c.bigRate, 'huge'],
    [10, 'traversal'],
    [4, 'empty'],
  ]);
  const asValue = (value: unknown): { gen: string; bytes: Buffer; value: unknown } => {
    const s = serialize(rng, value);
    return { gen: `${gen}/${s.form}`, bytes: Buffer.from(s.text), value };
  };
  switch (gen) {
    case 'random-bytes':
      return { gen, bytes: rng.bytes(rng.size(8192)) };
    case 'random-text': {
      const parts = [
        '{',
        '}',
        '[',
        ']',
        ',',
        ':',
        '"toNode"',
        '"method"',
        `"${c.target}"`,
        '"REQCliCommand"',
        '- ',
        '\n',
        ' ',
        '"',
        'null',
        '1',
        'a: b',
        '...',
      ];
      return { gen, bytes: Buffer.from(Array.from({ length: rng.size(400) }, () => rng.pick(parts)).join('')) };
    }
    case 'seed':
      return asValue(rng.chance(0.6) ? seed() : Array.from({ length: rng.range(1, 5) }, () => seed()));
    case 'seed-bytes': {
      const v = rng.chance(0.5) ? seed(byteSeeds) : Array.from({ length: rng.range(2, 4) }, () => seed(byteSeeds));
      return { gen, bytes: mutateBytes(rng, Buffer.from(serialize(rng, v).text)) };
    }
    case 'struct':
      return asValue(rng.chance(0.7) ? mutated() : Array.from({ length: rng.range(1, 6) }, () => (rng.chance(0.5) ? mutated() : seed())));
    case 'array':
      return asValue(
        Array.from({ length: rng.chance(0.1) ? rng.range(12, 40) : rng.range(0, 12) }, () =>
          rng.weighted<() => unknown>([
            [3, () => seed()],
            [3, mutated],
            [1, () => rng.pick(NUMBERS)],
            [1, () => rng.pick(STRINGS)],
            [1, () => rng.pick([null, true, [], [seed()], {}])],
          ])(),
        ),
      );
    case 'deep': {
      const depth = rng.chance(0.1 * c.bigRate) ? 1_000_000 : rng.chance(c.bigRate) ? 100_000 : rng.pick([100, 1000, 10_000]);
      if (rng.chance(0.5)) return { gen: `deep-doc-${depth}`, bytes: Buffer.from(deepText(rng, depth).text) };
      const s: InputObject = seed();
      put(s, rng.pick([...FIELDS, 'extra']), deepText(rng, depth));
      return { gen: `deep-field-${depth}`, bytes: Buffer.from(emit(s)), value: s };
    }
    case 'yaml':
      return { gen, bytes: Buffer.from(yamlDocument(rng, c, seed)) };
    case 'huge': {
      const s = seed();
      const what = rng.int(4);
      if (what === 0) s.data = [hugeString(rng, o.maxPayload)];
      else if (what === 1) s.methodArgs = Array.from({ length: rng.pick([1000, 50_000]) }, (_, i) => `a${i}`);
      else if (what === 2) {
        // Many messages in one input: all to the node that never runs, or all refused.
        const n = rng.pick([200, 1000, 3000]);
        const refused = rng.chance(0.5);
        const one = refused
          ? { toNode: c.target, method: 'REQnCliCommand' }
          : { toNode: c.ghost, method: 'REQNone', ACKTimeout: 1, retries: 1 };
        return { gen: `huge-array-${n}`, bytes: Buffer.from(JSON.stringify(Array.from({ length: n }, () => one))) };
      } else put(s, rng.pick(FIELDS), 'k'.repeat(rng.pick([70_000, 1_000_000, 3_000_000])));
      makeSafe(s, c);
      return { gen: `huge-${what}`, bytes: Buffer.from(emit(s)), value: s };
    }
    case 'traversal': {
      // Well-formed messages that write a result file: only the path is hostile.
      const method = rng.pick(['REQToFile', 'REQToFileAppend', 'REQPing', 'REQCliCommand', 'REQToFileAppend']);
      const m: InputObject = {
        toNode: rng.chance(0.9) ? c.target : c.central,
        method,
        data: ['escape attempt\n'],
        methodArgs: ['echo', 'escape'],
      };
      if (rng.chance(0.8)) m.directory = rng.pick(traversals(c));
      if (rng.chance(0.8)) m.fileName = rng.pick(traversals(c));
      return asValue(m);
    }
    default: {
      const v = rng.pick([
        '',
        ' ',
        '\n\n',
        '[]',
        '{}',
        'null',
        '0',
        '""',
        '\ufeff',
        '\ufeff[]',
        '[,]',
        '[null]',
        '[[]]',
        '---',
        '- ',
        '~',
        '[{}]',
        '{"method":null}',
        '\u0000',
      ]);
      return { gen: 'empty', bytes: Buffer.from(v) };
    }
  }
}

function yamlDocument(rng: Rng, c: FuzzContext, seed: () => InputObject): string {
  const s = seed();
  const y = yamlStringify(s);
  const t = c.target;
  return rng.pick([
    y,
    `---\n${y}---\n${y}`, // two documents
    `- &m\n  toNode: ${t}\n  method: REQToFileAppend\n  data: [x]\n- *m\n- *m\n`,
    `a: &a [${'x,'.repeat(50)}x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n`, // billion laughs
    `base: &base\n  toNode: ${t}\n  method: REQNone\nmsg:\n  <<: *base\n  data: [x]\n`,
    `<<: {toNode: ${t}, method: REQNone}\n`,
    `toNode: ${t}\nmethod: REQToFileAppend\ndata: !!binary aGVsbG8=\n`,
    `toNode: ${t}\nmethod: REQToFileAppend\ndata: !!set {a, b}\n`,
    `toNode: ${t}\nmethod: REQToFileAppend\ndata: !!omap [a: 1]\n`,
    `toNode: ${t}\nmethod: !!str REQNone\nACKTimeout: !!float 1.5\n`,
    `toNode: ${t}\nmethod: !custom REQNone\n`,
    `toNode: ${t}\nmethod: REQNone\nretries: 0x10\nmethodTimeout: 0o7\nACKTimeout: .inf\n`,
    `toNode: ${t}\nmethod: REQNone\nACKTimeout: 2001-12-14\n`,
    `? [toNode]\n: ${t}\nmethod: REQNone\n`,
    `toNode: ${t}\nmethod: REQNone\ntoNode: ${c.ghost}\n`, // duplicate key
    `toNode: ${t}\n\tmethod: REQNone\n`, // tab indentation
    `%YAML 1.1\n---\ntoNode: ${t}\nmethod: REQNone\nisReply: yes\n`,
    `%TAG ! tag:example.com,2000:\n---\ntoNode: !foo ${t}\n`,
    `toNode: ${t}\nmethod: REQToFileAppend\ndata: |\n  line1\n  line2\ndirectory: >-\n  ../../..\n`,
    `- toNode: ${t}\n  method: REQNone\n- [unclosed\n- toNode: ${t}\n  method: REQNone\n`,
    `${'  '.repeat(rng.range(1, 500))}toNode: ${t}\n`,
    `${'- '.repeat(rng.pick([100, 5000]))}x\n`,
    `"toNode": "${t}"\n"method": "REQNone"\n"data": ["\\x00\\u0000\\U0001F600"]\n`,
    `toNode: ${t}\nmethod: REQNone\n...\n{garbage\n`,
    `&a [*a]\n`,
    `*undefined_alias\n`,
  ]);
}

function controlRequest(rng: Rng, c: FuzzContext): { gen: string; body: Buffer } {
  const req = rng.pick<Record<string, unknown>>([
    { control: 'nodes' },
    { control: 'queue' },
    { control: 'status', id: rng.pick(['', 'x', '01J0000000000000000000FUZZ', 'x'.repeat(10_000), 5, null]) },
    { control: 'status' },
    { control: 'cancel', ids: rng.pick([[], ['nope'], 'nope', [1, null], Array.from({ length: 500 }, (_, i) => `id${i}`)]) },
    { control: 'cancel', to: rng.pick([c.ghost, 'nobody', '', 5, null, '../x']) },
    { control: 'send', input: rng.pick(['', '[]', 'not json', JSON.stringify({ toNode: c.ghost, method: 'REQNone' })]) },
    {
      control: 'send',
      messages: rng.pick([null, [], [{ toNode: c.ghost, method: 'REQNone' }], 'x', { toNode: c.ghost, method: 'REQNone' }]),
      watch: rng.chance(0.3),
    },
    { control: 'send', input: 5, watch: 'yes' },
    { control: rng.pick(['', 'NODES', 'shutdown', 'exit', null, 1, [], {}, '__proto__', 'constructor', 'toString']) },
    { control: 'nodes', extra: deepText(rng, 100_000) },
  ]);
  return { gen: `control:${JSON.stringify(req.control)}`, body: Buffer.from(emit(req)) };
}

function oversize(index: number, rng: Rng): TextCase {
  // 257 MiB of a valid document's repeated middle: the cap answers before any parsing.
  const path = rng.pick<TextPath>(['socket', 'tcp', 'http']);
  return {
    path,
    index,
    node: 'central',
    gen: 'oversize-257MiB',
    body: Buffer.alloc(1024 * 1024, 0x20),
    repeat: 257,
    framing: 'halfclose',
    canaries: [],
    firstIsCanary: false,
    control: false,
    auth: 'token',
    ...(path === 'http'
      ? { http: { method: 'POST', url: '/messages', headers: { 'content-type': 'application/json' }, chunked: true } }
      : {}),
  };
}
