import type { Logger } from 'pino';
import { newId } from '../message/id.js';
import type { Message } from '../message/message.js';
import type { JobStore, ScheduleRow } from '../store/jobs.js';
import type { Jobs } from './jobs.js';
import type { Rollout } from './rollout.js';
import type { Selector } from './selector.js';

/**
 * Recurring jobs (`--every 1h`, `"every": "1h"`): each run is a job of its own, linked to its
 * schedule, with its selector expanded anew (nodes that joined since are in). Durable: after a
 * restart a schedule goes on, and a run missed while the node was down runs once at start.
 */
export class Schedules {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly d: { store: JobStore; jobs: Jobs; logger: Logger; now?: () => number }) {}

  private get now(): number {
    return (this.d.now ?? Date.now)();
  }

  start(): void {
    for (const s of this.d.store.schedules()) if (s.state === 'active') this.arm(s);
  }

  stop(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  /** A new schedule; its first run starts now (it throws when the selector matches no node). */
  async create(
    template: Message,
    selector: Selector,
    rollout: Rollout | undefined,
    everyMs: number,
    beforeSubmit?: (ids: string[]) => void,
  ): Promise<{ schedule: ScheduleRow; job: string; targets: { node: string; id: string }[] }> {
    const id = newId(this.now);
    const row = {
      id,
      createdMs: this.now,
      template: JSON.stringify({ ...template, toNode: '' }),
      selector: JSON.stringify(selector),
      rollout: rollout === undefined ? null : JSON.stringify(rollout),
      everyMs,
      nextRunMs: this.now,
    };
    const first = await this.d.jobs.submit(template, selector, rollout, id, beforeSubmit);
    await this.d.store.createSchedule({ ...row, nextRunMs: this.now + everyMs });
    await this.d.store.setSchedule(id, { state: 'active', nextRunMs: this.now + everyMs, runs: 1, lastJobId: first.job.id });
    this.arm(this.d.store.schedule(id) as ScheduleRow);
    return { schedule: this.d.store.schedule(id) as ScheduleRow, job: first.job.id, targets: first.targets };
  }

  get(id: string): ScheduleRow | undefined {
    return this.d.store.schedule(id);
  }

  /** The schedules not cancelled. */
  list(): ScheduleRow[] {
    return this.d.store.schedules();
  }

  async setState(id: string, state: 'active' | 'paused' | 'cancelled'): Promise<ScheduleRow> {
    const s = this.d.store.schedule(id);
    if (s === undefined || s.state === 'cancelled') throw new Error(`no recurring job ${id} on this node`);
    const timer = this.timers.get(id);
    if (timer !== undefined) clearTimeout(timer);
    this.timers.delete(id);
    const nextRunMs = state === 'active' ? Math.max(s.nextRunMs, this.now) : s.nextRunMs;
    await this.d.store.setSchedule(id, { ...s, state, nextRunMs });
    const row = this.d.store.schedule(id) as ScheduleRow;
    if (state === 'active') this.arm(row);
    return row;
  }

  private arm(s: ScheduleRow): void {
    const wait = Math.max(0, s.nextRunMs - this.now);
    // Timers hold at most ~24.8 days: a longer wait is taken in steps.
    const t = setTimeout(() => void this.run(s.id), Math.min(wait, 0x7fffffff));
    t.unref();
    this.timers.set(s.id, t);
  }

  private async run(id: string): Promise<void> {
    this.timers.delete(id);
    const s = this.d.store.schedule(id);
    if (s === undefined || s.state !== 'active') return;
    if (s.nextRunMs > this.now) return this.arm(s);
    let lastJobId = s.lastJobId;
    try {
      const r = await this.d.jobs.submit(
        JSON.parse(s.template) as Message,
        JSON.parse(s.selector) as Selector,
        s.rollout === null ? undefined : (JSON.parse(s.rollout) as Rollout),
        id,
      );
      lastJobId = r.job.id;
    } catch (err) {
      this.d.logger.error({ err: (err as Error).message, schedule: id }, 'a run of a recurring job could not start');
    }
    // The next run is one interval after this one was due; runs missed while down are not made up.
    let next = s.nextRunMs + s.everyMs;
    if (next <= this.now) next = this.now + s.everyMs;
    await this.d.store.setSchedule(id, { state: 'active', nextRunMs: next, runs: s.runs + 1, lastJobId });
    this.arm(this.d.store.schedule(id) as ScheduleRow);
  }
}
