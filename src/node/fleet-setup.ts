import type { Logger } from 'pino';
import type { SubmittedJob } from '../inputs/accept.js';
import { replyId } from '../message/id.js';
import type { Message } from '../message/message.js';
import type { JobRequest } from '../message/parse.js';
import type { MessageNews } from '../fleet/job-events.js';
import { Jobs } from '../fleet/jobs.js';
import { JobViews } from '../fleet/job-views.js';
import { jobSpec } from '../fleet/requests.js';
import { Schedules } from '../fleet/schedules.js';
import type { Db } from '../store/db.js';
import type { Inbox } from '../store/inbox.js';
import { JobStore } from '../store/jobs.js';
import type { NodeRegistry } from '../store/nodes.js';
import type { Outbox } from '../store/outbox.js';
import type { Outgoing } from './outgoing.js';
import type { WatchEvent, Watchers } from './watch.js';

export interface NodeFleet {
  readonly jobs: Jobs;
  readonly views: JobViews;
  readonly schedules: Schedules;
  /** Makes a job (or a recurring one) of a message for many nodes (inputs/accept.ts). */
  readonly submitJob: (template: Message, req: JobRequest, beforeSubmit?: (ids: string[]) => void) => Promise<SubmittedJob>;
}

/**
 * The node's jobs (fleet/): stored in its database, told of every message's delivery and reply,
 * their events handed to the watchers (`steward send`, `steward job --wait`, the web console).
 */
export function setUpFleet(p: {
  db: Db;
  outbox: Pick<Outbox, 'get'>;
  inbox: Pick<Inbox, 'record'>;
  nodes: NodeRegistry;
  outgoing: Outgoing;
  watchers: Watchers;
  prepare: (msg: Message) => Message;
  logger: Logger;
}): NodeFleet {
  const store = new JobStore(p.db);
  const jobs = new Jobs({
    store,
    known: () => p.nodes.known(),
    submit: (m) => p.outgoing.submit(m),
    cancel: (ids) => p.outgoing.cancel(ids),
    prepare: p.prepare,
    fate: (id) => fate(p, id),
    emit: (ev) => p.watchers.emitJob(ev),
    logger: p.logger,
  });
  p.watchers.watchAll((ev) => {
    const news = newsOf(ev);
    if (news === undefined) return;
    jobs
      .onNews(news)
      .catch((err: unknown) => p.logger.error({ err: (err as Error).message }, 'a job could not take the news of its message'));
  });
  const schedules = new Schedules({ store, jobs, logger: p.logger });
  return {
    jobs,
    views: new JobViews(store),
    schedules,
    submitJob: async (template, req, beforeSubmit) => {
      const spec = jobSpec(req);
      if (spec.everyMs !== undefined) {
        const r = await schedules.create(template, spec.selector, spec.rollout, spec.everyMs, beforeSubmit);
        return { job: r.job, schedule: r.schedule.id, targets: r.targets };
      }
      const r = await jobs.submit(template, spec.selector, spec.rollout, undefined, beforeSubmit);
      return { job: r.job.id, targets: r.targets };
    },
  };
}

function newsOf(ev: WatchEvent): MessageNews | undefined {
  switch (ev.event) {
    case 'delivered':
    case 'cancelled':
      return { event: ev.event, id: ev.id };
    case 'unanswered':
      return { event: 'unanswered', id: ev.id, error: ev.error };
    case 'reply':
      return { event: 'reply', id: ev.id, data: ev.data };
    case 'error':
      return { event: 'error', id: ev.id, text: ev.text };
    case 'failed':
      return { event: 'failed', id: ev.id, error: ev.error };
  }
}

/** What the stores know of a job's message after a restart: its delivery's end and its reply. */
function fate(p: { outbox: Pick<Outbox, 'get'>; inbox: Pick<Inbox, 'record'> }, id: string): MessageNews[] {
  const sent = p.outbox.get(id);
  const out: MessageNews[] = [];
  if (sent?.state === 'delivered') out.push({ event: 'delivered', id });
  else if (sent?.state === 'cancelled') out.push({ event: 'cancelled', id });
  else if (sent?.state === 'failed') {
    const err = sent.lastError ?? '';
    out.push({ event: 'failed', id, error: err.startsWith('max-retries') ? `max retries reached: ${err}` : err });
  }
  if (p.inbox.record(replyId(id)) !== undefined) out.push({ event: 'reply', id, data: '' });
  return out;
}
