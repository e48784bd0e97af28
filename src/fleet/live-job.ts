import { NO_REPLY, type Message } from '../message/message.js';
import { FINAL_STATES, type JobRow, type TargetRow, type TargetState } from '../store/jobs.js';
import type { Rollout } from './rollout.js';

/** One target of a running job, in memory. */
export interface LiveTarget {
  readonly batch: number;
  readonly seq: number;
  /** Its message, once its batch went out. */
  readonly messageId: string | null;
  state: TargetState;
  output: string;
  /** It reached a final state once: its batch counted it (a later change does not count again). */
  counted: boolean;
}

/** A running job as kept in memory; its rows follow. */
export interface Live {
  row: JobRow;
  readonly rollout: Rollout | undefined;
  readonly expectsReply: boolean;
  readonly targets: Map<string, LiveTarget>;
  readonly total: number;
  readonly batches: number;
  /** Targets of each batch not counted yet. */
  readonly open: Map<number, number>;
  timer?: NodeJS.Timeout | undefined;
}

/** A running job in memory, from its rows. */
export function liveJob(row: JobRow, rows: readonly TargetRow[]): Live {
  const open = new Map<number, number>();
  const targets = new Map<string, LiveTarget>();
  for (const t of rows) {
    // A node not responding may be retrying: a restart learns from the outbox whether it is final.
    const counted = FINAL_STATES.has(t.state) && t.state !== 'not-responding';
    targets.set(t.node, { batch: t.batch, seq: t.seq, messageId: t.messageId, state: t.state, output: t.output ?? '', counted });
    if (!counted) open.set(t.batch, (open.get(t.batch) ?? 0) + 1);
  }
  const template = JSON.parse(row.template) as Message;
  return {
    row,
    rollout: row.rollout === null ? undefined : (JSON.parse(row.rollout) as Rollout),
    expectsReply: !(template.isReply || template.replyMethod === NO_REPLY),
    targets,
    total: rows.length,
    batches: rows.reduce((n, t) => Math.max(n, t.batch + 1), 0),
    open,
  };
}
