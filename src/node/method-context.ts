import type { Logger } from 'pino';
import { makeReply, type ReplyDefaults } from '../message/reply.js';
import type { Message } from '../message/message.js';
import type { MethodContext, NodeServices, Processes, SendOutcome } from '../methods/method.js';
import type { Spawner } from '../spawn/spawner.js';
import type { FileWriter } from '../store/files.js';
import type { RunControl } from './executor.js';

export interface MethodContextDeps {
  readonly nodeName: string;
  readonly dataFolder: string;
  readonly logger: Logger;
  readonly files: FileWriter;
  readonly spawner: Spawner;
  readonly processes: Processes;
  readonly replyDefaults: ReplyDefaults;
  readonly maxPayload: () => number;
  readonly submit: (messages: Message[]) => Promise<unknown>;
  readonly sendAndWait: (messages: Message[], signal: AbortSignal) => Promise<SendOutcome[]>;
  readonly reportAbout: (msg: Message, text: string) => void;
  readonly sawNode: NodeServices['sawNode'];
  /** Resolves when message `id` has run here, if it is queued or running now; undefined otherwise. */
  readonly whenFinished: (id: string) => Promise<void> | undefined;
  /** Whether this node ever received message `id`. */
  readonly received: (id: string) => boolean;
  readonly peerRotated: NodeServices['peerRotated'];
  readonly copyRoots: readonly string[];
}

/** Builds what a method gets for one run of one message (see MethodContext). */
export function methodContextFactory(
  d: MethodContextDeps,
): (msg: Message, checkpoint: string | undefined, run: RunControl) => MethodContext {
  return (msg, checkpoint, { signal, started }) => {
    const node: NodeServices = {
      spawner: d.spawner,
      processes: d.processes,
      sawNode: d.sawNode,
      peerRotated: d.peerRotated,
      copyRoots: d.copyRoots,
      send: (messages) => d.sendAndWait(messages, signal),
      queue: async (messages) => void (await d.submit(messages)),
      awaitRuns: async (ids) => {
        const missing: string[] = [];
        for (const id of ids) {
          const running = d.whenFinished(id);
          if (running !== undefined) await untilAborted(running, signal);
          else if (!d.received(id)) missing.push(id);
        }
        return { missing };
      },
    };
    let logger: Logger | undefined;
    return {
      nodeName: d.nodeName,
      dataFolder: d.dataFolder,
      // A child logger costs an allocation per message: made only when a method logs.
      get logger() {
        return (logger ??= d.logger.child({ id: msg.id, method: msg.method }));
      },
      files: d.files,
      checkpoint,
      signal,
      maxPayload: d.maxPayload(),
      started,
      reply: async (output, seq = 0) => {
        const r = makeReply(msg, output, seq, d.replyDefaults, Date.now());
        if (r !== undefined) await d.submit([r]);
      },
      reportError: (text) => d.reportAbout(msg, text),
      node,
    };
  };
}

/** `p`, or earlier once `signal` is aborted. */
function untilAborted(p: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      signal.removeEventListener('abort', done);
      resolve();
    };
    signal.addEventListener('abort', done, { once: true });
    void p.then(done);
  });
}
