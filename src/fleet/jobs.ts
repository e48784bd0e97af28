import type { Logger } from 'pino';
import { newId } from '../message/id.js';
import type { Message } from '../message/message.js';
import { FINAL_STATES, type JobRow, type JobStore, type TargetState } from '../store/jobs.js';
import { jobEnded, jobOfMessage, targetMessageId, type JobEvent, type MessageNews } from './job-events.js';
import { liveJob, type Live, type LiveTarget } from './live-job.js';
import { batches, overFailures, type Rollout } from './rollout.js';
import { describeSelector, expand, type Labels, type Selector } from './selector.js';

export interface JobsDeps {
  readonly store: JobStore;
  /** The nodes known now (from hellos), with their labels. */
  readonly known: () => ReadonlyMap<string, Labels>;
  /**
   * Commits messages to the outbox (and hands them to delivery); resolves with the ids that were
   * there already (left alone: sent before a restart).
   */
  readonly submit: (messages: Message[]) => Promise<readonly string[]>;
  /** Cancels pending messages. */
  readonly cancel: (ids: readonly string[]) => Promise<unknown>;
  /** The node's last touches on a message before it is stored (origin proofs). */
  readonly prepare: (msg: Message) => Message;
  /** What the outbox and inbox know of a message after a restart: its delivery's end, its reply. */
  readonly fate: (id: string) => MessageNews[];
  readonly emit: (ev: JobEvent) => void;
  readonly logger: Logger;
  readonly now?: () => number;
}

/**
 * After the last target of a batch answered, how long an error report about its command may
 * still come (it travels apart from the reply) before a batch with a failure limit is judged.
 */
const SETTLE_MS = 300;
/** How long a finished job stays in memory for late news (after that its rows take it). */
const LATE_NEWS_MS = 60_000;
/** The start of each target's reply kept with the job (all of it is in the result file). */
const OUTPUT_KEPT = 64 * 1024;

/**
 * Jobs: one message sent to many nodes (a list, `*`, label selectors), tracked per node until
 * each answered, failed or did not respond; in batches that stop when failures exceed a limit
 * (rollouts). Stored durably and run by the daemon: a restart picks up where it was, and the
 * messages of a batch keep their ids, so none is sent twice.
 */
export class Jobs {
  private readonly live = new Map<string, Live>();
  /** Message id -> its job and node, for the jobs in memory. */
  private readonly byMessage = new Map<string, { jobId: string; node: string }>();
  private readonly now: () => number;

  constructor(private readonly d: JobsDeps) {
    this.now = d.now ?? Date.now;
  }

  /** Picks up the jobs that were running before a restart, with what happened meanwhile. */
  async start(): Promise<void> {
    for (const row of this.d.store.running()) {
      const live = this.track(row);
      for (const [node, t] of live.targets) {
        if (FINAL_STATES.has(t.state) && t.state !== 'not-responding') continue;
        const id = this.d.store.target(row.id, node)?.messageId;
        if (id === null || id === undefined) continue;
        for (const news of this.d.fate(id)) await this.onNews(news);
      }
      if (live.row.state !== 'running') continue;
      const unsent = [...live.targets.values()].some((t) => t.batch === live.row.batch && t.state === 'waiting');
      // Stopped inside a batch's start: the rest of it goes (the ids it had, so nothing twice).
      if (unsent && live.row.nextBatchMs === null) await this.startBatch(live, live.row.batch);
      else if ((live.open.get(live.row.batch) ?? 0) === 0) await this.batchDone(live);
    }
  }

  stop(): void {
    for (const l of this.live.values()) if (l.timer !== undefined) clearTimeout(l.timer);
  }

  /**
   * A new job: the selector expanded against the nodes known now (stored with the job), the
   * first batch sent. A selector that matches nothing is an error, and nothing is created.
   * `beforeSubmit` sees the message ids before any can be delivered.
   */
  async submit(
    template: Message,
    selector: Selector,
    rollout?: Rollout,
    scheduleId?: string,
    beforeSubmit?: (ids: string[]) => void,
  ): Promise<{ job: JobRow; targets: { node: string; id: string }[] }> {
    const targets = expand(selector, this.d.known());
    if (targets.length === 0)
      throw new Error(`${describeSelector(selector)} matches no node this node knows (nodes are known from their hellos)`);
    const id = newId(this.now());
    const cut = batches(targets, rollout);
    const row: JobRow = {
      id,
      createdMs: this.now(),
      template: JSON.stringify({ ...template, toNode: '' }),
      selector: JSON.stringify({ ...selector, expanded: targets }),
      rollout: rollout === undefined ? null : JSON.stringify(rollout),
      scheduleId: scheduleId ?? null,
      state: 'running',
      batch: 0,
      nextBatchMs: null,
      reason: null,
      finishedMs: null,
    };
    await this.d.store.create(row, cut);
    const ids = cut.flat().map((node, seq) => ({ node, id: targetMessageId(id, seq) }));
    beforeSubmit?.(ids.map((t) => t.id));
    const live = this.track(row);
    await this.startBatch(live, 0);
    return { job: row, targets: ids };
  }

  /** Cancels what has not run: targets whose batch has not started, and messages not delivered yet. */
  async cancel(jobId: string): Promise<JobRow> {
    const row = this.d.store.job(jobId);
    if (row === undefined) throw new Error(`no job ${jobId} on this node`);
    const live = this.live.get(jobId);
    if (live !== undefined) {
      // Nothing more goes out from here on.
      if (live.timer !== undefined) clearTimeout(live.timer);
      live.row = { ...live.row, state: 'cancelled' };
    }
    const targets = this.d.store.targets(jobId);
    const ids = targets.filter((t) => t.state === 'queued' || t.state === 'not-responding').flatMap((t) => t.messageId ?? []);
    for (const t of targets.filter((x) => x.state === 'waiting'))
      await this.setState(jobId, t.node, 'cancelled', 'cancelled by an operator');
    if (row.state === 'running') await this.finish(jobId, 'cancelled', 'cancelled by an operator', false);
    // Their delivery's end (cancelled) comes back as news and moves their rows.
    await this.d.cancel(ids);
    return this.d.store.job(jobId) as JobRow;
  }

  /** News of a message: moves its job's target on. */
  async onNews(n: MessageNews): Promise<void> {
    let ref = this.byMessage.get(n.id);
    if (ref === undefined) {
      // A job's message whose job is no longer in memory (late news, after a restart).
      if (jobOfMessage(n.id) === undefined) return;
      const row = this.d.store.byMessage(n.id);
      if (row === undefined) return;
      ref = { jobId: row.jobId, node: row.node };
    }
    const { jobId, node } = ref;
    switch (n.event) {
      case 'delivered':
        return this.setState(jobId, node, this.live.get(jobId)?.expectsReply === false ? 'ok' : 'running');
      case 'unanswered':
        // Not answering now; final only once its delivery budget is spent ('failed'). With
        // retries -1 the job waits for it, and its row turns ok when it is back and answers.
        return this.setState(jobId, node, 'not-responding', n.error, undefined, false);
      case 'reply':
        return this.setState(jobId, node, 'ok', undefined, n.data);
      case 'error':
        return this.setState(jobId, node, 'error', n.text);
      case 'failed':
        return this.setState(jobId, node, /^max retries/.test(n.error) ? 'not-responding' : 'error', n.error);
      case 'cancelled':
        return this.setState(jobId, node, 'cancelled', 'cancelled by an operator');
    }
  }

  private track(row: JobRow): Live {
    const live = liveJob(row, this.d.store.targets(row.id));
    for (const [node, t] of live.targets) if (t.messageId !== null) this.byMessage.set(t.messageId, { jobId: row.id, node });
    this.live.set(row.id, live);
    return live;
  }

  /** Sends the targets of `batch` still waiting (ids derived from their places: a redo sends none twice). */
  private async startBatch(live: Live, batch: number): Promise<void> {
    const waiting = this.d.store.targets(live.row.id).filter((t) => t.batch === batch && t.state === 'waiting');
    const template = JSON.parse(live.row.template) as Message;
    const now = this.now();
    const messages = waiting.map((t) =>
      this.d.prepare({ ...template, id: targetMessageId(live.row.id, t.seq), toNode: t.node, createdMs: now }),
    );
    live.row = { ...live.row, batch, nextBatchMs: null };
    // The rows follow behind (a restart redoes a batch from the targets still waiting, with the
    // same ids, which the outbox leaves alone); the outbox commit is what sending waits for.
    this.persist(this.d.store.setJob(live.row.id, live.row));
    for (const m of messages) {
      this.byMessage.set(m.id, { jobId: live.row.id, node: m.toNode });
      const t = live.targets.get(m.toNode);
      if (t !== undefined) t.state = 'queued';
      this.d.emit({ event: 'target', job: live.row.id, node: m.toNode, id: m.id, state: 'queued' });
    }
    // Delivery starts with the outbox commit: news of a message can come before its row says
    // queued, so that write leaves a row that moved on as it is (JobStore.queued).
    const already = await this.d.submit(messages);
    this.persist(
      this.d.store.queued(
        live.row.id,
        messages.map((m) => ({ node: m.toNode, messageId: m.id })),
        now,
      ),
    );
    // Sent before a restart: what happened to them since, from the outbox and inbox.
    for (const id of already) for (const news of this.d.fate(id)) await this.onNews(news);
  }

  /** A write of the rows that nothing waits for; a failure is logged (the next restart reconciles). */
  private persist(p: Promise<unknown>): void {
    p.catch((err: unknown) => this.d.logger.error({ err: (err as Error).message }, 'a job row could not be written'));
  }

  /**
   * Moves a target on. Final states stay, but: an ok that a late error report turns into an
   * error, and a node that did not respond and then did (its messages retry).
   */
  private async setState(
    jobId: string,
    node: string,
    state: TargetState,
    detail?: string,
    data?: string,
    final = FINAL_STATES.has(state),
  ): Promise<void> {
    const live = this.live.get(jobId);
    const t = live?.targets.get(node);
    const before = t?.state ?? this.d.store.target(jobId, node)?.state;
    if (before === undefined) return;
    const output = data === undefined ? undefined : ((t?.output ?? '') + data).slice(0, OUTPUT_KEPT);
    if (before === state || (before === 'error' && state === 'ok')) {
      // More output (a long reply comes in parts), or the reply of a node that reported an error.
      if (output !== undefined) {
        if (t !== undefined) t.output = output;
        this.persist(this.d.store.setTarget(jobId, node, before, this.now(), undefined, output));
      }
      // A node not responding whose delivery budget is now spent: final.
      if (final && live !== undefined && t !== undefined) this.count(live, t);
      return;
    }
    const movable = !FINAL_STATES.has(before) || (before === 'ok' && state === 'error') || before === 'not-responding';
    if (!movable) return;
    if (t !== undefined) {
      t.state = state;
      if (output !== undefined) t.output = output;
    }
    // In memory at once; the row follows (a job's end waits for its rows, see finish).
    this.persist(this.d.store.setTarget(jobId, node, state, this.now(), detail, output));
    // The message id of its place (also for a target whose batch never went out).
    const id = targetMessageId(jobId, t?.seq ?? this.d.store.target(jobId, node)?.seq ?? 0);
    this.d.emit({ event: 'target', job: jobId, node, id, state, ...(detail === undefined ? {} : { detail }) });
    if (final && live !== undefined && t !== undefined) this.count(live, t);
  }

  /** A target reached a final state: its batch may be done. */
  private count(live: Live, t: LiveTarget): void {
    if (t.counted) return;
    t.counted = true;
    const left = (live.open.get(t.batch) ?? 1) - 1;
    live.open.set(t.batch, left);
    if (left === 0 && t.batch === live.row.batch && live.row.state === 'running') {
      // With a failure limit the batch is judged a moment later: the error report of a command
      // travels apart from its reply (it is sent first, and comes first unless its delivery had
      // to retry). Without one nothing hangs on it; a late error still turns the row to error.
      if (live.timer !== undefined) clearTimeout(live.timer);
      live.timer = setTimeout(
        () => {
          live.timer = undefined;
          this.batchDone(live).catch((err: unknown) =>
            this.d.logger.error({ err: (err as Error).message, job: live.row.id }, 'a job could not go on'),
          );
        },
        live.rollout?.maxFailures === undefined ? 0 : SETTLE_MS,
      );
    }
  }

  /** The batch going out is done: stop (too many failures), wait, send the next, or end. */
  private async batchDone(live: Live): Promise<void> {
    const jobId = live.row.id;
    if (live.row.state !== 'running') return;
    if (live.timer !== undefined) clearTimeout(live.timer);
    live.timer = undefined;
    // Judged on where the targets are now: a node that did not respond and then did is no failure.
    const failures = [...live.targets.values()].filter((t) => t.state === 'error' || t.state === 'not-responding').length;
    if (overFailures(live.rollout, failures, live.total)) {
      const limit = String(live.rollout?.maxFailures);
      await this.finish(jobId, 'stopped', `${failures} node(s) failed, more than the ${limit} allowed: the rollout stopped`, true);
      return;
    }
    const next = live.row.batch + 1;
    if (next >= live.batches) {
      await this.finish(jobId, 'done', null, false);
      return;
    }
    const wait = live.rollout?.batchWaitMs ?? 0;
    if (wait === 0 && live.row.nextBatchMs === null) return this.startBatch(live, next);
    // A wait is kept durably: a restart meanwhile keeps its time.
    const at = live.row.nextBatchMs ?? this.now() + wait;
    live.row = { ...live.row, nextBatchMs: at };
    await this.d.store.setJob(jobId, live.row);
    live.timer = setTimeout(
      () => {
        live.timer = undefined;
        this.startBatch(live, next).catch((err: unknown) =>
          this.d.logger.error({ err: (err as Error).message, job: jobId }, 'a batch could not be sent'),
        );
      },
      Math.max(0, at - this.now()),
    );
  }

  private async finish(jobId: string, state: JobRow['state'], reason: string | null, skipRest: boolean): Promise<void> {
    const live = this.live.get(jobId);
    if (live !== undefined) {
      if (live.timer !== undefined) clearTimeout(live.timer);
      live.row = { ...live.row, state, reason, finishedMs: this.now(), nextBatchMs: null };
    }
    const row = live?.row ?? this.d.store.job(jobId);
    if (row === undefined) return;
    if (skipRest) {
      for (const t of this.d.store.targets(jobId))
        if (t.state === 'waiting') await this.setState(jobId, t.node, 'skipped', reason ?? 'the rollout stopped');
    }
    // Durable, and with it every row written before (one queue of writes): the end event and
    // what `steward job` shows from now on agree.
    await this.d.store.setJob(jobId, { ...row, state, reason, finishedMs: this.now(), nextBatchMs: null });
    // Kept a while for late news (an error report after its ok); then the rows take it.
    setTimeout(() => {
      for (const [id, ref] of this.byMessage) if (ref.jobId === jobId) this.byMessage.delete(id);
      this.live.delete(jobId);
    }, LATE_NEWS_MS).unref();
    this.d.emit(jobEnded(jobId, state, reason, this.d.store.targets(jobId)));
  }
}
