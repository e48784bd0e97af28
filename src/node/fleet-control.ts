import { jobSummary, scheduleSummary } from '../fleet/answers.js';
import type { JobEvent } from '../fleet/job-events.js';
import type { ControlChannel } from '../inputs/stream.js';
import type { ScheduleRow } from '../store/jobs.js';
import { ControlError, type MoreHandlers } from './control.js';
import type { NodeFleet } from './fleet-setup.js';

export interface FleetControlDeps {
  readonly fleet: NodeFleet;
  readonly watchJobs: (jobs: readonly string[], listener: (ev: JobEvent) => void) => () => void;
  /** Channels that follow something until the node stops (told `stopped` then). */
  readonly follow: (ch: ControlChannel) => void;
}

export function fleetControl(d: FleetControlDeps): MoreHandlers {
  const { jobs, schedules, views } = d.fleet;
  const idOf = (req: Record<string, unknown>): string => {
    if (typeof req.id !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(req.id)) throw new ControlError('the request needs "id": a job id');
    return req.id;
  };
  /** A schedule by its id, or by the id of one of its runs. */
  const scheduleOf = (id: string): ScheduleRow | undefined => {
    const direct = schedules.get(id);
    if (direct !== undefined) return direct;
    const run = views.view(id)?.job.scheduleId;
    return run === null || run === undefined ? undefined : schedules.get(run);
  };
  const viewOf = (id: string): object => {
    const v = views.view(id);
    if (v === undefined) {
      const s = schedules.get(id);
      if (s !== undefined)
        return { schedule: scheduleSummary(s), runs: views.runsOf(s.id, 20).map((r) => ({ ...jobSummary(r.job), counts: r.counts })) };
      throw new ControlError(`no job ${id} on this node (steward jobs lists them)`);
    }
    return {
      job: jobSummary(v.job),
      counts: v.counts,
      targets: v.targets.map((t) => ({
        node: t.node,
        state: t.state,
        batch: t.batch,
        id: t.messageId,
        updatedMs: t.updatedMs,
        detail: t.detail,
        output: t.output,
      })),
    };
  };
  return {
    jobs: async (req) => {
      const limit = typeof req.limit === 'number' && req.limit > 0 ? Math.min(req.limit, 1000) : 20;
      return {
        now: Date.now(),
        jobs: views.recent(limit).map((r) => ({ ...jobSummary(r.job), counts: r.counts })),
        schedules: schedules.list().map(scheduleSummary),
      };
    },
    job: async (req, ch) => {
      const id = idOf(req);
      const first = viewOf(id);
      if (req.wait !== true || !('job' in first) || (first as { job: { state: string } }).job.state !== 'running') return first;
      // --wait: the view, then its events as they come, until the job ends.
      ch.write(first);
      const stop = d.watchJobs([id], (ev) => {
        ch.write(ev);
        if (ev.event === 'job') {
          stop();
          ch.end();
        }
      });
      ch.onClose(stop);
      d.follow(ch);
      return undefined;
    },
    'job-cancel': async (req) => {
      const id = idOf(req);
      const s = schedules.get(id);
      if (s !== undefined) {
        const row = await schedules.setState(id, 'cancelled');
        const run = row.lastJobId === null ? undefined : views.view(row.lastJobId)?.job;
        if (run?.state === 'running') await jobs.cancel(run.id);
        return { schedule: scheduleSummary(row) };
      }
      if (views.view(id) === undefined) throw new ControlError(`no job ${id} on this node (steward jobs lists them)`);
      await jobs.cancel(id);
      return viewOf(id);
    },
    'job-pause': async (req) => {
      const s = scheduleOf(idOf(req));
      if (s === undefined) throw new ControlError(`${String(req.id)} is not a recurring job (only those made with --every pause)`);
      return { schedule: scheduleSummary(await schedules.setState(s.id, 'paused')) };
    },
    'job-resume': async (req) => {
      const s = scheduleOf(idOf(req));
      if (s === undefined) throw new ControlError(`${String(req.id)} is not a recurring job (only those made with --every resume)`);
      return { schedule: scheduleSummary(await schedules.setState(s.id, 'active')) };
    },
  };
}
