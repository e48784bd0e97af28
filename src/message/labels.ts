/** Node labels: `role=ship,site=north` (-labels), sent in hellos, kept by central with its registry. */
export type Labels = Readonly<Record<string, string>>;

const LABEL_KEY = /^[A-Za-z0-9_.-]{1,63}$/;
const LABEL_VALUE = /^[A-Za-z0-9_.:/-]{0,128}$/;
/** Labels a node may have at most. */
export const MAX_LABELS = 32;

/** Why `labels` are not valid node labels, or undefined. */
export function labelsError(labels: Record<string, unknown>): string | undefined {
  const entries = Object.entries(labels);
  if (entries.length > MAX_LABELS) return `at most ${MAX_LABELS} labels`;
  for (const [k, v] of entries) {
    if (!LABEL_KEY.test(k)) return `label key ${JSON.stringify(k.slice(0, 80))} must be 1 to 63 letters, digits, _ . or -`;
    if (typeof v !== 'string' || !LABEL_VALUE.test(v)) return `label ${k}: the value must be up to 128 letters, digits, _ . : / or -`;
  }
  return undefined;
}

/** The labels in a hello's methodArgs (a JSON object), when they are valid; else none. */
export function labelsOfHello(methodArgs: readonly string[]): Labels | undefined {
  const [text] = methodArgs;
  if (text === undefined || text.length > 16 * 1024) return undefined;
  try {
    const v = JSON.parse(text) as unknown;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
    return labelsError(v as Record<string, unknown>) === undefined ? (v as Labels) : undefined;
  } catch {
    return undefined;
  }
}
