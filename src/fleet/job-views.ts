import type { JobRow, JobStore, TargetRow } from '../store/jobs.js';
import { countsOf, type Counts } from './job-events.js';

/** What the operators read of jobs (`steward jobs`, `steward job`, the console): from the store, which the jobs keep current. */
export class JobViews {
  constructor(private readonly store: JobStore) {}

  /** One job with its targets and counts. */
  view(jobId: string): { job: JobRow; targets: TargetRow[]; counts: Counts } | undefined {
    const job = this.store.job(jobId);
    if (job === undefined) return undefined;
    const targets = this.store.targets(jobId);
    return { job, targets, counts: countsOf(targets) };
  }

  /** The latest runs of a recurring job. */
  runsOf(scheduleId: string, limit: number): { job: JobRow; counts: Counts }[] {
    return this.store.runsOf(scheduleId, limit).map((job) => ({ job, counts: this.store.counts(job.id) }));
  }

  recent(limit: number): { job: JobRow; counts: Counts }[] {
    return this.store.recent(limit).map((job) => ({ job, counts: this.store.counts(job.id) }));
  }
}
