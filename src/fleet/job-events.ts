import type { JobRow, TargetRow, TargetState } from '../store/jobs.js';

/** Counts of a job's targets per state. */
export type Counts = Partial<Record<TargetState, number>>;

/** What a job's watchers hear: a target changed state, or the job did. */
export type JobEvent =
  | { event: 'target'; job: string; node: string; id: string; state: TargetState; detail?: string }
  | {
      event: 'job';
      job: string;
      state: JobRow['state'];
      reason?: string;
      counts: Counts;
      /** The nodes that answered with an error, and what it was. */
      failed: { node: string; detail: string }[];
      /** The nodes that did not answer (not reached, or their delivery budget spent). */
      notResponding: string[];
    };

/** What a message's delivery and its reply tell the jobs (node/watch.ts WatchEvent). */
export type MessageNews =
  | { event: 'delivered'; id: string }
  | { event: 'unanswered'; id: string; error: string }
  | { event: 'reply'; id: string; data: string }
  | { event: 'error'; id: string; text: string }
  | { event: 'failed'; id: string; error: string }
  | { event: 'cancelled'; id: string };

/** The message id of target `seq` of job `jobId`: known before it is sent, the same after a restart. */
export function targetMessageId(jobId: string, seq: number): string {
  return `${jobId}-t${seq}`;
}

/** The job a message id belongs to, when it is a job's. */
export function jobOfMessage(id: string): string | undefined {
  const m = /^(.+)-t\d+$/.exec(id);
  return m?.[1];
}

/** A job's targets counted per state. */
export function countsOf(targets: readonly TargetRow[]): Counts {
  const counts: Counts = {};
  for (const t of targets) counts[t.state] = (counts[t.state] ?? 0) + 1;
  return counts;
}

/** The event of a job's end: its counts, the nodes that failed and those that did not respond. */
export function jobEnded(job: string, state: JobRow['state'], reason: string | null, targets: readonly TargetRow[]): JobEvent {
  return {
    event: 'job',
    job,
    state,
    ...(reason === null ? {} : { reason }),
    counts: countsOf(targets),
    failed: targets.filter((t) => t.state === 'error').map((t) => ({ node: t.node, detail: t.detail ?? '' })),
    notResponding: targets.filter((t) => t.state === 'not-responding').map((t) => t.node),
  };
}
