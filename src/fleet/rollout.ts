/**
 * How a job goes out: in batches (`N` nodes, or `N%` of the targets, at least 1), with a wait
 * between batches, stopping when failures (error, not responding) exceed `maxFailures`.
 */
export interface Rollout {
  readonly batch: number | `${number}%`;
  readonly batchWaitMs: number;
  /** `N`, or `N%` of the targets; 0: stop at the first failure; undefined: never stop. */
  readonly maxFailures?: number | `${number}%`;
}

/** Parses `10` or `10%` (batch sizes and failure limits); throws with `what` in the error. */
export function parseCount(v: unknown, what: string, allowZero: boolean): number | `${number}%` {
  const s = String(v).trim();
  const m = /^(\d{1,7})(%?)$/.exec(s);
  if (m === null) throw new Error(`${what} "${s.slice(0, 40)}" is not a number or a percentage (10, 10%)`);
  const n = Number(m[1]);
  if (m[2] === '%') {
    if (n > 100 || (n === 0 && !allowZero)) throw new Error(`${what} ${s}: a percentage from ${allowZero ? 0 : 1} to 100`);
    return `${n}%`;
  }
  if (n === 0 && !allowZero) throw new Error(`${what} 0: at least 1`);
  return n;
}

/** `N` or `N%` of `total`, as a count (a percentage rounds up, at least 1 when above 0). */
export function countOf(v: number | `${number}%`, total: number): number {
  if (typeof v === 'number') return v;
  const pct = Number(v.slice(0, -1));
  return pct === 0 ? 0 : Math.max(1, Math.ceil((total * pct) / 100));
}

/** The targets cut into batches, in order. */
export function batches(targets: readonly string[], r: Rollout | undefined): string[][] {
  if (r === undefined || targets.length === 0) return [targets.slice()];
  const size = Math.max(1, countOf(r.batch, targets.length));
  const out: string[][] = [];
  for (let i = 0; i < targets.length; i += size) out.push(targets.slice(i, i + size));
  return out;
}

/** Whether `failures` exceed the limit for `total` targets. */
export function overFailures(r: Rollout | undefined, failures: number, total: number): boolean {
  if (r?.maxFailures === undefined) return false;
  return failures > countOf(r.maxFailures, total);
}

/** Parses a duration: `90s`, `15m`, `1h`, `2d`, or seconds as a number. */
export function parseDuration(v: unknown, what: string): number {
  const s = String(v).trim();
  const m = /^(\d{1,9})(ms|s|m|h|d)?$/.exec(s);
  if (m === null) throw new Error(`${what} "${s.slice(0, 40)}" is not a duration (90s, 15m, 1h, 2d)`);
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] ?? 's'] as number;
  if (n === 0) throw new Error(`${what} "${s}": must be more than 0`);
  return n * unit;
}
