import type { Logger } from 'pino';
import type { Kind, Message } from '../message/message.js';
import type { Spawner } from '../spawn/spawner.js';
import type { FileWriter } from '../store/files.js';

/** What a method may use while it runs on the receiving node. */
export interface MethodContext {
  readonly nodeName: string;
  readonly dataFolder: string;
  readonly logger: Logger;
  readonly files: FileWriter;
  /** Redo information stored at receipt by `plan()`. */
  readonly checkpoint: string | undefined;
  /**
   * Aborted when the message's methodTimeout has passed (reason: a TimeoutError) or when the node
   * stops (a StopError); `endedBy(signal)` tells which. Every method stops its work on it.
   */
  readonly signal: AbortSignal;
  /** The broker's max payload: replies must stay below it. */
  readonly maxPayload: number;
  /**
   * Makes "this message may have run" durable: after a crash it is reported interrupted instead
   * of run again. A method with `startsAtFork` calls it right before its command is handed to
   * fork; for the others the executor calls it before `run`.
   */
  started(): Promise<void>;
  /**
   * Queues reply number `seq` carrying `output` (replyMethod REQNone sends nothing). It takes its
   * place among this node's outgoing messages when called, before the promise settles (the
   * order replies leave in is the order of these calls); resolves once it is durably stored.
   */
  reply(output: string, seq?: number): Promise<void>;
  /** Logs the error and sends it to the central node's error log (and to the sender). */
  reportError(text: string): void;
  /** What a few methods need of the node beyond their own message. */
  readonly node: NodeServices;
}

/** The node's services for the methods that need them (commands, copies, relays, hellos, REQOpProcess). */
export interface NodeServices {
  /** Starts the processes of commands (REQCliCommand, REQCliCommandCont). */
  readonly spawner: Spawner;
  /** The node's subscriber and publisher processes (for the REQOpProcess methods and relays). */
  readonly processes: Processes;
  /** Records that `node` was heard from (hello), with the labels it says it has. */
  sawNode(node: string, atMs: number, labels: Readonly<Record<string, string>>): void;
  /**
   * Commits new messages to this node's outbox and resolves, one outcome per message, once each
   * is delivered, has failed or was cancelled. A message whose id is already in the outbox is not
   * sent again: its recorded outcome is used (so a method redone after a restart resumes).
   */
  send(messages: Message[]): Promise<SendOutcome[]>;
  /** Commits new messages to this node's outbox (an id already there is not added again). */
  queue(messages: Message[]): Promise<void>;
  /**
   * Resolves once every message named has finished running on this node; lists the ids this
   * node never received.
   */
  awaitRuns(ids: readonly string[]): Promise<{ missing: string[] }>;
  /** The folders REQCopyFileTo may write into (-copyDestinations; default: the data folder). */
  readonly copyRoots: readonly string[];
  /** `node` proved a new key (REQKeyRotate data): binds it; a string says why not. */
  peerRotated(node: string, data: readonly string[]): Promise<string | undefined>;
}

/** Why a run's signal was aborted: its methodTimeout passed, or the node is stopping (undefined: not aborted). */
export function endedBy(signal: AbortSignal): 'timeout' | 'stopping' | undefined {
  if (!signal.aborted) return undefined;
  return (signal.reason as { name?: unknown } | undefined)?.name === 'TimeoutError' ? 'timeout' : 'stopping';
}

export interface SendOutcome {
  readonly id: string;
  readonly outcome: 'delivered' | 'failed' | 'cancelled';
  readonly detail: string;
}

/** One subscriber (a method's subject) or publisher (one destination node) of a node. */
export interface ProcessInfo {
  readonly kind: 'subscriber' | 'publisher';
  readonly subject: string;
  /** Stable for the life of the process. */
  readonly id: number;
}

/** What the REQOpProcess methods may do to the node's processes. */
export interface Processes {
  /** Every method this node knows (for "did you mean" hints). */
  readonly methods: readonly string[];
  /** Subscribers and the publishers delivering now, sorted by kind then subject. */
  list(): ProcessInfo[];
  /** Starts the method's subscriber: undefined for an unknown method. */
  start(method: string): { started: boolean; process: ProcessInfo } | undefined;
  /** Stops the method's subscriber: undefined when it is not running. */
  stop(method: string): ProcessInfo | undefined;
  /** The method's running subscriber, if any. */
  subscriber(method: string): ProcessInfo | undefined;
}

/**
 * A method: the work a message asks the receiving node to do. One file per method in
 * src/methods/, listed in registry.ts.
 */
export interface MethodHandler {
  readonly name: string;
  readonly kind: Kind;
  /**
   * What happens when the node crashed while this method ran: `report` sends an
   * "interrupted" error (a command must not run twice); `redo` runs it again because the
   * method is idempotent (writes a file in place).
   */
  readonly onInterrupted: 'report' | 'redo';
  /** False for frequent fire-and-forget events that need no de-duplication (hello). */
  readonly ledger?: boolean;
  /** It calls ctx.started() itself, right before its command is handed to fork (commands). */
  readonly startsAtFork?: true;
  /** Computed once at receipt and stored with it; handed to run() as ctx.checkpoint. */
  plan?(msg: Message, ctx: PlanContext): string | undefined;
  /** Gives back what plan() reserved when the receipt is not kept (a duplicate). */
  abandon?(checkpoint: string, files: FileWriter): void;
  /** Re-reserves what plan() reserved, when a receipt is recovered after a restart. */
  recover?(checkpoint: string, msg: Message, files: FileWriter): void;
  run(msg: Message, ctx: MethodContext): Promise<void>;
}

export interface PlanContext {
  readonly dataFolder: string;
  readonly nodeName: string;
  readonly files: FileWriter;
}
