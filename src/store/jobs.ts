import type { Db } from './db.js';
import type { Statement } from './sqlite.js';

/** Where one target of a job is. */
export const TARGET_STATES = ['waiting', 'queued', 'running', 'ok', 'error', 'not-responding', 'cancelled', 'skipped'] as const;
export type TargetState = (typeof TARGET_STATES)[number];
/** The states a target does not leave (but ok, which a late error report turns into error). */
export const FINAL_STATES: ReadonlySet<TargetState> = new Set(['ok', 'error', 'not-responding', 'cancelled', 'skipped']);

export type JobState = 'running' | 'done' | 'stopped' | 'cancelled';

export interface JobRow {
  id: string;
  createdMs: number;
  template: string;
  selector: string;
  rollout: string | null;
  scheduleId: string | null;
  state: JobState;
  batch: number;
  nextBatchMs: number | null;
  reason: string | null;
  finishedMs: number | null;
}

export interface TargetRow {
  jobId: string;
  node: string;
  seq: number;
  batch: number;
  state: TargetState;
  messageId: string | null;
  updatedMs: number;
  detail: string | null;
  output: string | null;
}

export interface ScheduleRow {
  id: string;
  createdMs: number;
  template: string;
  selector: string;
  rollout: string | null;
  everyMs: number;
  nextRunMs: number;
  state: 'active' | 'paused' | 'cancelled';
  runs: number;
  lastJobId: string | null;
}

const JOB_COLS =
  'id, created_ms AS createdMs, template, selector, rollout, schedule_id AS scheduleId, state, batch, next_batch_ms AS nextBatchMs, reason, finished_ms AS finishedMs';
const TARGET_COLS = 'job_id AS jobId, node, seq, batch, state, message_id AS messageId, updated_ms AS updatedMs, detail, output';
const SCHEDULE_COLS =
  'id, created_ms AS createdMs, template, selector, rollout, every_ms AS everyMs, next_run_ms AS nextRunMs, state, runs, last_job_id AS lastJobId';

/** Jobs, their targets and the recurring schedules, durably (see fleet/jobs.ts). */
export class JobStore {
  private readonly s: Record<string, Statement>;

  constructor(private readonly db: Db) {
    const q = (sql: string): Statement => db.sql.prepare(sql);
    this.s = {
      insertJob: q(
        'INSERT INTO jobs (id, created_ms, template, selector, rollout, schedule_id, state, batch) VALUES (?, ?, ?, ?, ?, ?, ?, 0)',
      ),
      insertTarget: q('INSERT INTO job_targets (job_id, node, seq, batch, state, updated_ms) VALUES (?, ?, ?, ?, ?, ?)'),
      job: q(`SELECT ${JOB_COLS} FROM jobs WHERE id = ?`),
      running: q(`SELECT ${JOB_COLS} FROM jobs WHERE state = 'running' ORDER BY created_ms`),
      recent: q(`SELECT ${JOB_COLS} FROM jobs ORDER BY created_ms DESC LIMIT ?`),
      runsOf: q(`SELECT ${JOB_COLS} FROM jobs WHERE schedule_id = ? ORDER BY created_ms DESC LIMIT ?`),
      targets: q(`SELECT ${TARGET_COLS} FROM job_targets WHERE job_id = ? ORDER BY seq`),
      target: q(`SELECT ${TARGET_COLS} FROM job_targets WHERE job_id = ? AND node = ?`),
      byMessage: q(`SELECT ${TARGET_COLS} FROM job_targets WHERE message_id = ?`),
      counts: q('SELECT state, count(*) AS n FROM job_targets WHERE job_id = ? GROUP BY state'),
      setTarget: q(
        'UPDATE job_targets SET state = ?, updated_ms = ?, detail = coalesce(?, detail), output = coalesce(?, output) WHERE job_id = ? AND node = ?',
      ),
      queueTarget: q(
        "UPDATE job_targets SET state = CASE state WHEN 'waiting' THEN 'queued' ELSE state END, message_id = ?, updated_ms = ? WHERE job_id = ? AND node = ?",
      ),
      setJob: q('UPDATE jobs SET state = ?, batch = ?, next_batch_ms = ?, reason = ?, finished_ms = ? WHERE id = ?'),
      insertSchedule: q(
        "INSERT INTO schedules (id, created_ms, template, selector, rollout, every_ms, next_run_ms, state) VALUES (?, ?, ?, ?, ?, ?, ?, 'active')",
      ),
      schedule: q(`SELECT ${SCHEDULE_COLS} FROM schedules WHERE id = ?`),
      schedules: q(`SELECT ${SCHEDULE_COLS} FROM schedules WHERE state != 'cancelled' ORDER BY created_ms`),
      setSchedule: q('UPDATE schedules SET state = ?, next_run_ms = ?, runs = ?, last_job_id = ? WHERE id = ?'),
    };
  }

  /** A new job and its targets (all waiting, in batches), in one commit. */
  create(
    job: Omit<JobRow, 'state' | 'batch' | 'nextBatchMs' | 'reason' | 'finishedMs'>,
    batches: readonly (readonly string[])[],
  ): Promise<void> {
    return this.db.write(() => {
      this.s.insertJob?.run(job.id, job.createdMs, job.template, job.selector, job.rollout, job.scheduleId, 'running');
      let seq = 0;
      batches.forEach((nodes, batch) => {
        for (const node of nodes) this.s.insertTarget?.run(job.id, node, seq++, batch, 'waiting', job.createdMs);
      });
    });
  }

  job(id: string): JobRow | undefined {
    return this.s.job?.get(id) as unknown as JobRow | undefined;
  }

  running(): JobRow[] {
    return this.s.running?.all() as unknown as JobRow[];
  }

  recent(limit: number): JobRow[] {
    return this.s.recent?.all(limit) as unknown as JobRow[];
  }

  runsOf(scheduleId: string, limit: number): JobRow[] {
    return this.s.runsOf?.all(scheduleId, limit) as unknown as JobRow[];
  }

  targets(jobId: string): TargetRow[] {
    return this.s.targets?.all(jobId) as unknown as TargetRow[];
  }

  target(jobId: string, node: string): TargetRow | undefined {
    return this.s.target?.get(jobId, node) as unknown as TargetRow | undefined;
  }

  byMessage(messageId: string): TargetRow | undefined {
    return this.s.byMessage?.get(messageId) as unknown as TargetRow | undefined;
  }

  /** Targets per state. */
  counts(jobId: string): Partial<Record<TargetState, number>> {
    const out: Partial<Record<TargetState, number>> = {};
    for (const r of this.s.counts?.all(jobId) as unknown as { state: TargetState; n: number }[]) out[r.state] = r.n;
    return out;
  }

  setTarget(jobId: string, node: string, state: TargetState, now: number, detail?: string, output?: string): Promise<void> {
    return this.db.writeSoon(() => void this.s.setTarget?.run(state, now, detail ?? null, output ?? null, jobId, node));
  }

  /** Targets whose messages were just committed: queued, with their message ids. */
  queued(jobId: string, targets: readonly { node: string; messageId: string }[], now: number): Promise<void> {
    return this.db.write(() => {
      for (const t of targets) this.s.queueTarget?.run(t.messageId, now, jobId, t.node);
    });
  }

  setJob(id: string, j: Pick<JobRow, 'state' | 'batch' | 'nextBatchMs' | 'reason' | 'finishedMs'>): Promise<void> {
    return this.db.write(() => void this.s.setJob?.run(j.state, j.batch, j.nextBatchMs, j.reason, j.finishedMs, id));
  }

  createSchedule(r: Omit<ScheduleRow, 'state' | 'runs' | 'lastJobId'>): Promise<void> {
    return this.db.write(
      () => void this.s.insertSchedule?.run(r.id, r.createdMs, r.template, r.selector, r.rollout, r.everyMs, r.nextRunMs),
    );
  }

  schedule(id: string): ScheduleRow | undefined {
    return this.s.schedule?.get(id) as unknown as ScheduleRow | undefined;
  }

  schedules(): ScheduleRow[] {
    return this.s.schedules?.all() as unknown as ScheduleRow[];
  }

  setSchedule(id: string, r: Pick<ScheduleRow, 'state' | 'nextRunMs' | 'runs' | 'lastJobId'>): Promise<void> {
    return this.db.write(() => void this.s.setSchedule?.run(r.state, r.nextRunMs, r.runs, r.lastJobId, id));
  }
}
