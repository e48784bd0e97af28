import YAML from 'yaml';

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
  const whole = parseValue(text);
  if (whole.ok) return elementsOf(whole.value);
  const trimmed = text.trimStart();
  if (trimmed.startsWith('[')) {
    const parts = splitTopLevelArray(trimmed);
    if (parts !== undefined && parts.length > 0) {
      return parts.map((part, index) => {
        const p = parseValue(part);
        return p.ok ? { index, value: p.value } : { index, error: `message ${index} is malformed: ${p.error}` };
      });
    }
  }
  return [{ index: 0, error: `malformed input, not JSON or YAML: ${whole.error}` }];
}

function elementsOf(value: unknown): Element[] {
  if (Array.isArray(value)) {
    if (value.length === 0) return [{ index: 0, error: 'the input is an empty array: no messages' }];
    return (value as unknown[]).map((v, index) => ({ index, value: v }));
  }
  return [{ index: 0, value }];
}

type Parsed = { ok: true; value: unknown } | { ok: false; error: string };

function parseValue(text: string): Parsed {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (jsonErr) {
    // YAML 1.2 is a superset of JSON that also accepts the trailing commas of the seed's
    // examples; it is only tried when JSON fails, as it is much slower.
    try {
      const doc = YAML.parseDocument(text, { uniqueKeys: false });
      if (doc.errors.length > 0) return { ok: false, error: shorten((jsonErr as Error).message) };
      return { ok: true, value: doc.toJS({ maxAliasCount: 100 }) };
    } catch (yamlErr) {
      return { ok: false, error: shorten((yamlErr as Error).message) };
    }
  }
}

function shorten(s: string): string {
  const line = s.split('\n')[0] ?? s;
  return line.length > 200 ? `${line.slice(0, 200)}...` : line;
}

/**
 * Splits `[a, b, c]` at its top-level commas, honouring strings and nesting. Returns undefined
 * when the brackets never close at the top level.
 */
function splitTopLevelArray(text: string): string[] | undefined {
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
      depth--;
      if (depth === 0) {
        const last = text.slice(start, i);
        if (last.trim() !== '') parts.push(last);
        return parts;
      }
    } else if (ch === ',' && depth === 1) {
      const part = text.slice(start, i);
      if (part.trim() !== '') parts.push(part);
      start = i + 1;
    }
  }
  // Unclosed: keep what was split so far plus the tail, each judged on its own.
  const tail = text.slice(start);
  if (tail.trim() !== '') parts.push(tail);
  return parts.length > 1 ? parts : undefined;
}
