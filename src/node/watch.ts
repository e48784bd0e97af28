import { requestIdOfPart } from '../message/id.js';
import type { Message } from '../message/message.js';
import type { JobEvent } from '../fleet/job-events.js';
import { ERROR_METHOD, SUMMARY_ARG } from './error-reporter.js';

/**
 * What an operator waiting on messages hears about them (`steward send`): delivery, the reply,
 * errors the remote node reported about it, or the end of its delivery.
 */
export type WatchEvent =
  | { event: 'delivered'; id: string; toNode: string }
  | { event: 'reply'; id: string; node: string; replyMethod: string; data: string }
  | { event: 'error'; id: string; node: string; text: string }
  | { event: 'failed'; id: string; toNode: string; error: string }
  /** An attempt went unanswered; the message waits for its next one. */
  | { event: 'unanswered'; id: string; toNode: string; attempts: number; error: string }
  | { event: 'cancelled'; id: string; toNode: string };

type Listener = (ev: WatchEvent) => void;

/** Listeners by message id; listeners of every event (jobs); listeners of jobs' own events. */
export class Watchers {
  private readonly byId = new Map<string, Set<Listener>>();
  private readonly all = new Set<Listener>();
  private readonly byJob = new Map<string, Set<(ev: JobEvent) => void>>();

  /** Calls `listener` for every event (returns the function that stops it). */
  watchAll(listener: Listener): () => void {
    this.all.add(listener);
    return () => this.all.delete(listener);
  }

  /** Calls `listener` for the events of these jobs. */
  watchJobs(jobs: readonly string[], listener: (ev: JobEvent) => void): () => void {
    for (const j of jobs) {
      let set = this.byJob.get(j);
      if (set === undefined) this.byJob.set(j, (set = new Set()));
      set.add(listener);
    }
    return () => {
      for (const j of jobs) {
        const set = this.byJob.get(j);
        set?.delete(listener);
        if (set?.size === 0) this.byJob.delete(j);
      }
    };
  }

  emitJob(ev: JobEvent): void {
    for (const l of [...(this.byJob.get(ev.job) ?? [])]) l(ev);
    for (const l of [...this.jobListeners]) l(ev);
  }

  /** Listeners of every job's events (the web console). */
  readonly jobListeners = new Set<(ev: JobEvent) => void>();

  /** Calls `listener` for events about any of `ids`; returns the function that stops it. */
  watch(ids: readonly string[], listener: Listener): () => void {
    for (const id of ids) {
      let set = this.byId.get(id);
      if (set === undefined) {
        set = new Set();
        this.byId.set(id, set);
      }
      set.add(listener);
    }
    return () => {
      for (const id of ids) {
        const set = this.byId.get(id);
        set?.delete(listener);
        if (set?.size === 0) this.byId.delete(id);
      }
    };
  }

  emit(ev: WatchEvent): void {
    for (const l of this.all) l(ev);
    const set = this.byId.get(ev.id);
    if (set === undefined) return;
    for (const l of [...set]) l(ev);
  }
}

/** Replies and error reports about messages sent from here, for the operators waiting on them. */
export function emitReceived(watchers: Watchers, msg: Message): void {
  // A reply or error about a part of a request (a copy's end) is news about the request.
  const about = msg.previousMessage?.id;
  if (msg.isReply && typeof about === 'string') {
    watchers.emit({
      event: 'reply',
      id: requestIdOfPart(about),
      node: msg.fromNode,
      replyMethod: msg.method,
      data: msg.data.join(''),
    });
  } else if (msg.method === ERROR_METHOD && msg.methodArgs[0] !== undefined && msg.methodArgs[0] !== SUMMARY_ARG) {
    watchers.emit({ event: 'error', id: requestIdOfPart(msg.methodArgs[0]), node: msg.fromNode, text: msg.data.join(' ') });
  }
}

/** The end of a message's delivery, for the operators waiting on it. */
export function emitFinished(watchers: Watchers, msg: Message, outcome: 'delivered' | 'failed' | 'cancelled', detail: string): void {
  if (outcome === 'delivered') watchers.emit({ event: 'delivered', id: msg.id, toNode: msg.toNode });
  else if (outcome === 'failed') watchers.emit({ event: 'failed', id: msg.id, toNode: msg.toNode, error: detail });
  else watchers.emit({ event: 'cancelled', id: msg.id, toNode: msg.toNode });
}
