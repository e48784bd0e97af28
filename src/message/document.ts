import type * as YamlLib from 'yaml';
import { lazy } from '../lib/lazy.js';

const yaml = lazy<typeof YamlLib>('yaml');

/**
 * Turns input text into the list of message candidates it holds: a JSON or YAML array, or a
 * single object. When the whole text does not parse, a top-level array is split into its
 * elements so that one broken element does not take the good ones down with it.
 */
export type Element = { index: number; value: unknown } | { index: number; error: string };

export function splitDocument(text: string): Element[] {
  if (text.trim() === '') {
    return [{ index: 0, error: 'empty input: send a JSON or YAML message, or an array of messages' }];
  }
  const budget: YamlBudget = { chars: YAML_BUDGET_CHARS };
  const whole = parseValue(text, budget);
  if (whole.ok) return elementsOf(whole.value);
  const trimmed = text.trimStart();
  if (trimmed.startsWith('[')) {
    const split = splitTopLevelArray(trimmed);
    const parts = resync(split.parts, budget);
    if (split.closed ? parts.length > 0 || split.trailing !== undefined : parts.length > 1) {
      const out: Element[] = parts.map((p, index) =>
        p.ok ? { index, value: p.value } : { index, error: `message ${index} is malformed: ${p.error}` },
      );
      if (split.trailing !== undefined) {
        const index = out.length;
        const t = split.trailing.trim();
        out.push({
          index,
          error: `message ${index} is malformed: unexpected text after the end of the array: ${JSON.stringify(t.length > 40 ? `${t.slice(0, 40)}...` : t)}`,
        });
      }
      return out;
    }
  }
  return [{ index: 0, error: `malformed input, not JSON or YAML: ${whole.error}` }];
}

/**
 * True when the whole text parses as one document. A stream client that has not half-closed
 * may pause anywhere, also between two elements of an array: only a complete document may be
 * answered before the end of its input.
 */
export function isCompleteDocument(text: string): boolean {
  return text.trim() !== '' && parseValue(text).ok;
}

/** A quick look, without parsing: could the input be an operator request? */
export function mayBeOperatorRequest(bytes: Uint8Array): boolean {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return buf.subarray(0, 64).toString('utf8').trimStart().startsWith('{') && buf.includes('"control"');
}

/**
 * The request, when the input is an operator request (one JSON object with a `control` field,
 * see docs/operator-protocol.md) rather than messages.
 */
export function operatorRequest(bytes: Uint8Array): Record<string, unknown> | undefined {
  if (!mayBeOperatorRequest(bytes)) return undefined;
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    const v: unknown = JSON.parse(buf.toString('utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v) && 'control' in v ? v : undefined;
  } catch {
    return undefined;
  }
}

function elementsOf(value: unknown): Element[] {
  if (Array.isArray(value)) {
    if (value.length === 0) return [{ index: 0, error: 'the input is an empty array: no messages' }];
    return (value as unknown[]).map((v, index) => ({ index, value: v }));
  }
  return [{ index: 0, value }];
}

type Parsed = { ok: true; value: unknown } | { ok: false; error: string };

/**
 * YAML is tried only on text small and shallow enough. The yaml parser recurses once per
 * nesting level: a few thousand levels (a few KB of `[` or `- `) exhaust the stack, and V8 may
 * then abort the whole process ("RegExpCompiler Allocation failed") instead of throwing. It also
 * parses under 1 MB a second while the event loop waits. Deeper or larger input must be JSON.
 */
const YAML_MAX_DEPTH = 100;
const YAML_MAX_CHARS = 1024 * 1024;
/** YAML characters one input may spend (its whole text, then its elements one by one). */
const YAML_BUDGET_CHARS = 4 * 1024 * 1024;

interface YamlBudget {
  chars: number;
}

function parseValue(text: string, budget: YamlBudget = { chars: YAML_BUDGET_CHARS }): Parsed {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (jsonErr) {
    // YAML 1.2 is a superset of JSON that also accepts the trailing commas of the seed's
    // examples; it is only tried when JSON fails, as it is much slower.
    const refused =
      text.length > Math.min(YAML_MAX_CHARS, budget.chars)
        ? `larger than ${Math.min(YAML_MAX_CHARS, budget.chars)} characters`
        : yamlDepth(text) > YAML_MAX_DEPTH
          ? `nested deeper than ${YAML_MAX_DEPTH} levels`
          : undefined;
    if (refused !== undefined) return { ok: false, error: `${shorten((jsonErr as Error).message)} (not tried as YAML: ${refused})` };
    budget.chars -= text.length;
    try {
      // logLevel 'error': a collection used as a key (`? [a]`) is stringified, which yaml would
      // otherwise also print as a warning on stderr; the key is then refused as an unknown field.
      const doc = yaml().parseDocument(text, { uniqueKeys: false, logLevel: 'error' });
      if (doc.errors.length > 0) return { ok: false, error: shorten((jsonErr as Error).message) };
      return { ok: true, value: doc.toJS({ maxAliasCount: 100 }) };
    } catch (yamlErr) {
      return { ok: false, error: shorten((yamlErr as Error).message) };
    }
  }
}

/**
 * An upper bound of how deep YAML would nest `text`: the open brackets, plus the indentation
 * and the block indicators (`- `, `? `, `: `) that start the current line.
 */
export function yamlDepth(text: string): number {
  let max = 0;
  let brackets = 0;
  let line = 0;
  let atStart = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0a) {
      line = 0;
      atStart = true;
      continue;
    }
    if (atStart) {
      const next = text.charCodeAt(i + 1);
      if (
        c === 0x20 ||
        c === 0x09 ||
        ((c === 0x2d || c === 0x3f || c === 0x3a) && (next === 0x20 || next === 0x09 || next === 0x0a || Number.isNaN(next)))
      ) {
        line++;
        if (brackets + line > max) max = brackets + line;
        continue;
      }
      atStart = false;
    }
    if (c === 0x5b || c === 0x7b) {
      brackets++;
      if (brackets + line > max) max = brackets + line;
    } else if ((c === 0x5d || c === 0x7d) && brackets > 0) brackets--;
  }
  return max;
}

function shorten(s: string): string {
  const line = s.split('\n')[0] ?? s;
  return line.length > 200 ? `${line.slice(0, 200)}...` : line;
}

interface ArraySplit {
  /** The element texts, in order. */
  parts: string[];
  /** False when the closing bracket never came. */
  closed: boolean;
  /** Non-blank text after the closing bracket. */
  trailing?: string;
}

/**
 * Splits `[a, b, c]` at its top-level commas, honouring strings and nesting. A stray `}` at the
 * top level, or a `]` followed by a comma, is left in its element (which will not parse) rather
 * than taken as the end of the array.
 */
function splitTopLevelArray(text: string): ArraySplit {
  const parts: string[] = [];
  let depth = 0;
  let inString: string | undefined;
  let start = 1;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString !== undefined) {
      if (ch === '\\') i++;
      else if (ch === inString) inString = undefined;
      continue;
    }
    if (ch === '"' || ch === "'") inString = ch;
    else if (ch === '[' || ch === '{') depth++;
    else if (ch === ']' || ch === '}') {
      if (depth > 1) depth--;
      else if (ch === ']' && nextNonBlank(text, i + 1) !== ',') {
        const last = text.slice(start, i);
        if (last.trim() !== '') parts.push(last);
        const rest = text.slice(i + 1);
        return rest.trim() === '' ? { parts, closed: true } : { parts, closed: true, trailing: rest };
      }
    } else if (ch === ',' && depth === 1) {
      const part = text.slice(start, i);
      if (part.trim() !== '') parts.push(part);
      start = i + 1;
    }
  }
  // Unclosed (cut short, or a broken string swallowed the brackets): keep what was split so far
  // plus the tail, each judged on its own; the final `]` belongs to the array, not the tail.
  const tail = text.slice(start).replace(/\]\s*$/, '');
  if (tail.trim() !== '') parts.push(tail);
  return { parts, closed: false };
}

function nextNonBlank(text: string, from: number): string | undefined {
  for (let i = from; i < text.length; i++) if (!/\s/.test(text[i] as string)) return text[i];
  return undefined;
}

/**
 * Parses the element texts. One that does not parse may hold the next elements too, when a
 * missing quote made the split read them as part of a string: it is cut again at every
 * `}, {`, and the pieces that are objects on their own become elements again. The pieces in
 * between stay together as one malformed element.
 */
function resync(parts: readonly string[], budget: YamlBudget): Parsed[] {
  const out: Parsed[] = [];
  for (const part of parts) {
    const p = parseValue(part, budget);
    if (p.ok) {
      out.push(p);
      continue;
    }
    // [start, end) of each piece: a cut keeps the `}` in the piece before and the `{` in the next.
    const pieces: [number, number][] = [];
    let from = 0;
    for (const m of part.matchAll(/\}\s*,\s*\{/g)) {
      pieces.push([from, m.index + 1]);
      from = m.index + m[0].length - 1;
    }
    if (pieces.length === 0) {
      out.push(p);
      continue;
    }
    pieces.push([from, part.length]);
    let pending: [number, number] | undefined;
    const flush = (): void => {
      if (pending !== undefined) out.push(parseValue(part.slice(pending[0], pending[1]), budget));
      pending = undefined;
    };
    for (const [a, b] of pieces) {
      const q = parseValue(part.slice(a, b), budget);
      if (q.ok && q.value !== null && typeof q.value === 'object' && !Array.isArray(q.value)) {
        flush();
        out.push(q);
      } else pending = [pending?.[0] ?? a, b];
    }
    flush();
  }
  return out;
}
