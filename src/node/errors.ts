import type { Logger } from 'pino';
import { newId } from '../message/id.js';
import type { Message } from '../message/message.js';

export const ERROR_METHOD = 'REQErrorLog';

export interface ErrorReporterDeps {
  readonly nodeName: string;
  readonly centralNodeName: string;
  readonly ackTimeoutMs: number;
  readonly retries: number;
  readonly logger: Logger;
  readonly submit: (messages: Message[]) => Promise<unknown>;
}

/**
 * Sends errors to the central node (REQErrorLog, with errorMessageTimeout and
 * errorMessageRetries) and to this node's own log. The central node appends them to
 * `<data>/errorLog/<centralNodeName>/error.log`.
 */
export class ErrorReporter {
  constructor(private readonly d: ErrorReporterDeps) {}

  report(text: string, to: string = this.d.centralNodeName): void {
    this.d.logger.error(text);
    const msg: Message = {
      id: newId(),
      toNode: to,
      fromNode: this.d.nodeName,
      method: ERROR_METHOD,
      methodArgs: [],
      replyMethod: 'REQNone',
      replyMethodArgs: [],
      isReply: false,
      data: [text],
      ackTimeoutMs: this.d.ackTimeoutMs,
      retries: this.d.retries,
      replyAckTimeoutMs: 0,
      replyRetries: 0,
      methodTimeoutMs: 0,
      replyMethodTimeoutMs: 0,
      directory: 'errorLog',
      fileName: 'error.log',
      relayViaNode: '',
      relayReplyMethod: '',
      createdMs: Date.now(),
    };
    this.d.submit([msg]).catch((err: unknown) => this.d.logger.error({ err: (err as Error).message }, 'cannot queue an error message'));
  }

  /** The seed's wording, so operators find the line they know. */
  static maxRetriesText(msg: Message, attempts: number): string {
    return (
      `info: toNode: ${msg.toNode}, fromNode: ${msg.fromNode}, method: ${msg.method}, id: ${msg.id}, attempts: ${attempts}, ` +
      `methodArgs: ${JSON.stringify(msg.methodArgs)}: max retries reached, check if node is up and running and if it got a subscriber for the given REQ type`
    );
  }
}
