import type { JobRequest } from '../message/parse.js';
import { parseCount, parseDuration, type Rollout } from './rollout.js';
import { selectorError, type Selector } from './selector.js';

/** A job request as given (a message's toNodes/where/rollout/every, or `steward send` options), checked. */
export interface JobSpec {
  readonly selector: Selector;
  readonly rollout?: Rollout;
  readonly everyMs?: number;
}

/** Checks a job request; throws an Error that says what is wrong (nothing is queued then). */
export function jobSpec(req: JobRequest): JobSpec {
  const where: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.where)) where[k] = String(v);
  const selector: Selector = { names: req.names, where };
  const bad = selectorError(selector);
  if (bad !== undefined) throw new Error(bad);
  let rollout: Rollout | undefined;
  if (req.rollout !== undefined) {
    const r = req.rollout;
    rollout = {
      batch: r.batch === undefined ? 1 : parseCount(r.batch, 'rollout batch', false),
      batchWaitMs:
        r.batchWait === undefined || r.batchWait === 0 || r.batchWait === '0' ? 0 : parseDuration(r.batchWait, 'rollout batchWait'),
      ...(r.maxFailures === undefined ? {} : { maxFailures: parseCount(r.maxFailures, 'rollout maxFailures', true) }),
    };
  }
  const everyMs = req.every === undefined ? undefined : parseDuration(req.every, 'every');
  if (everyMs !== undefined && everyMs < 5_000) throw new Error(`every ${String(req.every)}: at least 5 s between runs`);
  return { selector, ...(rollout === undefined ? {} : { rollout }), ...(everyMs === undefined ? {} : { everyMs }) };
}
