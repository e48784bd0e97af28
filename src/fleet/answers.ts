import type { JobRow, ScheduleRow } from '../store/jobs.js';

/** Which nodes a job was sent to, as the operator gave them. */
export interface SelectorAnswer {
  names: string[] | '*';
  where: Record<string, string>;
}

/** A job as the operator requests answer it (`jobs`, `job`): read by `steward jobs` and the console. */
export interface JobSummary {
  id: string;
  state: string;
  createdMs: number;
  finishedMs: number | null;
  reason: string | null;
  schedule: string | null;
  batch: number;
  nextBatchMs: number | null;
  rollout: object | null;
  method: string;
  methodArgs: string[];
  selector: SelectorAnswer;
  targets: number;
}

/** A recurring job's schedule as the operator requests answer it. */
export interface ScheduleSummary {
  id: string;
  state: string;
  everyMs: number;
  nextRunMs: number;
  runs: number;
  lastJob: string | null;
  method: string;
  methodArgs: string[];
  selector: SelectorAnswer;
}

/** How a job's stored template and selector read in an answer. */
export function jobSummary(j: JobRow): JobSummary {
  const t = JSON.parse(j.template) as { method?: string; methodArgs?: string[] };
  const s = JSON.parse(j.selector) as SelectorAnswer & { expanded: string[] };
  return {
    id: j.id,
    state: j.state,
    createdMs: j.createdMs,
    finishedMs: j.finishedMs,
    reason: j.reason,
    schedule: j.scheduleId,
    batch: j.batch,
    nextBatchMs: j.nextBatchMs,
    rollout: j.rollout === null ? null : (JSON.parse(j.rollout) as object),
    method: t.method ?? '',
    methodArgs: t.methodArgs ?? [],
    selector: { names: s.names, where: s.where },
    targets: s.expanded.length,
  };
}

export function scheduleSummary(s: ScheduleRow): ScheduleSummary {
  const t = JSON.parse(s.template) as { method?: string; methodArgs?: string[] };
  const sel = JSON.parse(s.selector) as SelectorAnswer;
  return {
    id: s.id,
    state: s.state,
    everyMs: s.everyMs,
    nextRunMs: s.nextRunMs,
    runs: s.runs,
    lastJob: s.lastJobId,
    method: t.method ?? '',
    methodArgs: t.methodArgs ?? [],
    selector: { names: sel.names, where: sel.where },
  };
}
