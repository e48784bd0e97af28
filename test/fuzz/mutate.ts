import { stringify as yamlStringify } from 'yaml';
import { FIELDS, METHODS, NUMBERS, STRINGS, nodeNames, put, traversals, type FuzzContext } from './corpus.js';
import type { Rng } from './rng.js';

/** Text emitted as it is by `emit` (deep nesting that JSON.stringify could not build). */
export class Raw {
  constructor(
    readonly text: string,
    /** The text is valid JSON on its own (a never-closed nesting is not). */
    readonly valid = true,
  ) {}
}

/** An object emitted with these key/value pairs in this order, duplicates included. */
export class Pairs {
  constructor(readonly pairs: [string, unknown][]) {}
}

/** JSON text of a value that may hold Raw and Pairs. */
export function emit(v: unknown, indent = ''): string {
  const nl = indent === '' ? '' : `\n${indent}`;
  if (v instanceof Raw) return v.text;
  if (v instanceof Pairs) return `{${v.pairs.map(([k, x]) => `${nl}${JSON.stringify(k)}:${emit(x, indent)}`).join(',')}}`;
  if (Array.isArray(v)) return `[${v.map((x) => `${nl}${emit(x, indent)}`).join(',')}]`;
  if (v !== null && typeof v === 'object') return emit(new Pairs(Object.entries(v)), indent);
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v); // NaN, Infinity: not JSON, on purpose
  return JSON.stringify(v) ?? 'null';
}

/** Whether `emit(v)` is valid JSON (no never-closed nesting, no NaN or Infinity). */
export function jsonSafe(v: unknown): boolean {
  if (v instanceof Raw) return v.valid;
  if (v instanceof Pairs) return v.pairs.every(([, x]) => jsonSafe(x));
  if (Array.isArray(v)) return v.every(jsonSafe);
  if (v !== null && typeof v === 'object') return Object.values(v).every(jsonSafe);
  return typeof v !== 'number' || Number.isFinite(v);
}

function plain(v: unknown): boolean {
  if (v instanceof Raw || v instanceof Pairs) return false;
  if (Array.isArray(v)) return v.every(plain);
  if (v !== null && typeof v === 'object') return Object.values(v).every(plain);
  return true;
}

/** Serializes a message document in one of the forms users send. */
export function serialize(rng: Rng, v: unknown): { form: string; text: string } {
  const form = rng.weighted<string>([
    [5, 'json'],
    [2, 'pretty'],
    [2, 'yaml'],
    [1, 'trailing-commas'],
  ]);
  if (form === 'yaml' && plain(v)) {
    try {
      return { form, text: yamlStringify(v, { aliasDuplicateObjects: false }) };
    } catch {
      // Falls through to JSON.
    }
  }
  if (form === 'pretty') return { form, text: emit(v, '  ') };
  if (form === 'trailing-commas') return { form, text: emit(v, ' ').replace(/([\]}"\d])(\n\s*[\]}])/g, '$1,$2') };
  return { form: 'json', text: emit(v) };
}

/** Nested arrays or objects `depth` deep, as text (sometimes never closed). */
export function deepText(rng: Rng, depth: number): Raw {
  const kind = rng.int(4);
  if (kind === 0) return new Raw('['.repeat(depth) + ']'.repeat(depth));
  if (kind === 1) return new Raw('{"a":'.repeat(depth) + '1' + '}'.repeat(depth));
  if (kind === 2) return new Raw('[{"x":'.repeat(depth) + 'null' + '}]'.repeat(depth));
  return new Raw('['.repeat(depth), false);
}

export function hugeString(rng: Rng, maxPayload: number): string {
  const n = rng.pick([
    maxPayload - 4096,
    maxPayload - 1100,
    maxPayload - 900,
    maxPayload,
    maxPayload + 1,
    2 * maxPayload,
    rng.range(1, 300_000),
  ]);
  const ch = rng.pick(['x', 'é', '😀', '\u0000', '\\', '"']);
  return ch.repeat(Math.max(1, Math.floor(n / Buffer.byteLength(ch))));
}

/** A value for a field: usually a plausible one, often a wrong type or an extreme. */
export function fuzzValue(rng: Rng, c: FuzzContext, field: string, maxPayload: number, depth = 0): unknown {
  const lower = field.toLowerCase();
  const r = rng.int(100);
  if (r < 25) {
    if (lower === 'directory' || lower === 'filename') return rng.pick(traversals(c));
    if (lower.includes('node')) return rng.chance(0.7) ? rng.pick(nodeNames(c)) : [rng.pick(nodeNames(c)), rng.pick(nodeNames(c))];
    if (lower.includes('method') && !lower.includes('args') && !lower.includes('timeout'))
      return rng.pick([...METHODS, 'REQCopyFileTo', 'REQRelay', 'reqclicommand', 'REQCliCommand ', 'REQ\u0000None', '']);
    if (lower.includes('args') || lower === 'data')
      return Array.from({ length: rng.int(5) }, () => (rng.chance(0.3) ? rng.pick(traversals(c)) : rng.pick(STRINGS)));
    if (lower.includes('timeout') || lower.includes('retries')) return rng.pick(NUMBERS);
  }
  if (r < 40) return rng.pick(NUMBERS);
  if (r < 60) return rng.pick(STRINGS);
  if (r < 65) return rng.pick([null, true, false]);
  if (r < 70) return rng.pick([[], {}, [[]], [{}], { a: 1 }, ['x', 1, null, true], [['nested']]]);
  if (r < 80) {
    // Big values are rare, or every input would be megabytes and the run would crawl.
    const big = rng.chance(0.04 * c.bigRate);
    if (r < 74) return deepText(rng, big ? rng.pick([5000, 20_000, 100_000]) : rng.pick([8, 64, 300, 1000]));
    if (r < 77) return big ? hugeString(rng, maxPayload) : rng.pick(['é', '😀', '\u0000', 'x']).repeat(rng.range(100, 5000));
    return Array.from({ length: big ? rng.pick([1000, 10_000]) : rng.range(0, 100) }, (_, i) => `arg${i}`);
  }
  if (r < 85 && depth < 3) {
    const o: Record<string, unknown> = {};
    for (let i = rng.int(4); i > 0; i--)
      put(o, rng.pick([...FIELDS, '__proto__', rng.word()]), fuzzValue(rng, c, rng.pick(FIELDS), maxPayload, depth + 1));
    return o;
  }
  if (r < 90) return rng.pick(traversals(c));
  return rng.word(0, 30);
}

/** Mutates a message object in place (one to a few changes) and returns it. */
export function mutateObject(rng: Rng, o: Record<string, unknown>, c: FuzzContext, maxPayload: number): Record<string, unknown> | Pairs {
  const n = rng.range(1, 4);
  for (let i = 0; i < n; i++) {
    const keys = Object.keys(o);
    const op = rng.int(10);
    if (op <= 2 || keys.length === 0) {
      const f = rng.pick(keys.length > 0 && rng.chance(0.5) ? keys : FIELDS);
      put(o, f, fuzzValue(rng, c, f, maxPayload));
    } else if (op === 3) {
      delete o[rng.pick(keys)];
    } else if (op === 4) {
      // Another letter case, or a near miss that "did you mean" must name.
      const k = rng.pick(keys);
      const v = o[k];
      delete o[k];
      const variants = [k.toUpperCase(), k.toLowerCase(), `${k}s`, k.slice(1), `${k} `, ` ${k}`, `${k}\u0000`, k.replace(/e/g, '3')];
      put(o, rng.pick(variants), v);
    } else if (op === 5) {
      put(
        o,
        rng.pick(['unknownField', 'control', '__proto__', 'constructor', 'toNodes2', 'methodargs2', rng.word(1, 40), 'x'.repeat(10_000)]),
        fuzzValue(rng, c, 'x', maxPayload),
      );
    } else if (op === 6) {
      const f = rng.pick(['directory', 'fileName']);
      o[f] = rng.pick(traversals(c));
      if (rng.chance(0.5)) o.method = rng.pick(['REQToFile', 'REQToFileAppend', 'REQPing', 'REQPong']);
    } else if (op === 7) {
      const v = rng.chance(0.1 * c.bigRate) ? hugeString(rng, maxPayload) : 'd'.repeat(rng.range(0, 20_000));
      o.data = rng.chance(0.5) ? [v] : v;
    } else if (op === 8) {
      o.toNodes = Array.from({ length: rng.pick([0, 1, 2, 5, 20]) }, () => rng.pick(nodeNames(c)));
      if (rng.chance(0.5)) delete o.toNode;
    } else {
      // Duplicated keys, in the same or another letter case: emitted as they are.
      const pairs: [string, unknown][] = Object.entries(o);
      const k = rng.pick(keys);
      pairs.push([rng.chance(0.5) ? k : k.toUpperCase(), fuzzValue(rng, c, k, maxPayload)]);
      return new Pairs(pairs);
    }
  }
  return o;
}

const TOKENS = [
  '[',
  ']',
  '{',
  '}',
  ',',
  ':',
  '"',
  "'",
  '\\',
  '\u0000',
  '\n',
  '\t',
  '---\n',
  '...\n',
  '- ',
  '? ',
  '&a ',
  '*a',
  '!!binary ',
  '!!set ',
  '<<: ',
  '#',
  '%YAML 1.1\n',
  'null',
  'true',
  '-1',
  '1e999',
  'NaN',
  '\ufeff',
  '\ud800',
  '\u2028',
  '😀',
  '}, {',
  '],[',
  '"toNode"',
  '"method"',
  '"control"',
  '..',
  '/',
  '{{STEWARD_DATA}}',
];

/** Byte-level mutations: flips, inserts, deletes, duplicated or truncated chunks, special tokens. */
export function mutateBytes(rng: Rng, input: Buffer): Buffer {
  let b = Buffer.from(input);
  const n = rng.range(1, 8);
  for (let i = 0; i < n; i++) {
    const at = b.length === 0 ? 0 : rng.int(b.length);
    const op = rng.int(8);
    if (op === 0 && b.length > 0) b[at] = (b[at] as number) ^ (1 << rng.int(8));
    else if (op === 1 && b.length > 0) b[at] = rng.u32() & 0xff;
    else if (op === 2) b = Buffer.concat([b.subarray(0, at), b.subarray(at + rng.range(1, 16))]);
    else if (op === 3) b = Buffer.concat([b.subarray(0, at), Buffer.from(rng.pick(TOKENS)), b.subarray(at)]);
    else if (op === 4) b = b.subarray(0, at);
    else if (op === 5) {
      const len = rng.range(1, Math.max(1, Math.min(64, b.length - at)));
      const chunk = b.subarray(at, at + len);
      b = Buffer.concat([
        b.subarray(0, at),
        ...Array.from({ length: rng.range(2, rng.chance(0.1) ? 1000 : 4) }, () => chunk),
        b.subarray(at + len),
      ]);
    } else if (op === 6) b = Buffer.concat([b.subarray(0, at), rng.bytes(rng.range(1, 8)), b.subarray(at)]);
    else b = Buffer.concat([b.subarray(0, at), Buffer.from(rng.pick(TOKENS)), b.subarray(at + 1)]);
  }
  return b;
}
