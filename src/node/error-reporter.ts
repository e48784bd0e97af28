import type { Logger } from 'pino';
import { newMessage, type Message } from '../message/message.js';

export const ERROR_METHOD = 'REQErrorLog';
/** Error reports sent per second once the burst allowance is used. */
export const REPORT_RATE = 100;
export const REPORT_BURST = 1000;
/**
 * methodArgs[0] of a summary line (`N more error reports were not sent`), where other reports
 * carry the id they are about: the receiver gives summaries an allowance of their own, so the
 * count of what was held back is not refused along with the flood it sums up.
 */
export const SUMMARY_ARG = 'summary';

/** An error line that sums up the reports its sender held back (see SUMMARY_ARG). */
export function isReportSummary(msg: Pick<Message, 'method' | 'methodArgs'>): boolean {
  return msg.method === ERROR_METHOD && msg.methodArgs[0] === SUMMARY_ARG;
}
/** An error line longer than this is cut (it must fit in a message, and be readable). */
const MAX_REPORT_CHARS = 16 * 1024;

function clipReport(text: string): string {
  return text.length <= MAX_REPORT_CHARS ? text : `${text.slice(0, MAX_REPORT_CHARS)}... (cut, ${text.length} characters in all)`;
}

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

  private tokens = REPORT_BURST;
  private refilledMs = Date.now();
  private suppressed = 0;
  private summaryTimer: NodeJS.Timeout | undefined;

  /**
   * Logs `text` and sends it to `to` (the central node by default). Reports beyond
   * REPORT_RATE per second (after a burst of REPORT_BURST) are only logged, and counted in one
   * summary line, so a flood of bad input cannot flood the error log or the outbox.
   */
  report(text: string, to: string = this.d.centralNodeName, relatedId?: string): void {
    this.d.logger.error(relatedId === undefined ? {} : { id: relatedId }, text);
    if (!this.take()) {
      this.suppressed++;
      this.summaryTimer ??= setTimeout(() => this.summarize(), 1000).unref();
      return;
    }
    this.send(clipReport(text), to, relatedId);
  }

  /**
   * An error about message `msg` (its method failed): to central, and to the node that sent it
   * when that is another node, so whoever waits for the result hears of it.
   */
  reportAbout(msg: Message, text: string): void {
    this.report(text, this.d.centralNodeName, msg.id);
    if (msg.fromNode !== this.d.centralNodeName && msg.fromNode !== this.d.nodeName) this.report(text, msg.fromNode, msg.id);
  }

  private take(): boolean {
    const now = Date.now();
    this.tokens = Math.min(REPORT_BURST, this.tokens + ((now - this.refilledMs) / 1000) * REPORT_RATE);
    this.refilledMs = now;
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }

  /**
   * One summary a second at most (its timer), outside the token bucket: while a flood lasts, the
   * reports take every token, and the count must still reach central as the flood goes on.
   */
  private summarize(): void {
    this.summaryTimer = undefined;
    if (this.suppressed === 0) return;
    const n = this.suppressed;
    this.suppressed = 0;
    this.send(
      `error: ${n} more error reports were not sent (over ${REPORT_RATE} per second); they are in the log of ${this.d.nodeName}`,
      this.d.centralNodeName,
      SUMMARY_ARG,
    );
  }

  /** `about`: the id of the message the error is about (or SUMMARY_ARG). */
  private send(text: string, to: string, about?: string): void {
    const msg = newMessage({
      toNode: to,
      fromNode: this.d.nodeName,
      method: ERROR_METHOD,
      // The id of the message the error is about, so the node that sent it can tell its waiters.
      methodArgs: about === undefined ? [] : [about],
      data: [text],
      ackTimeoutMs: this.d.ackTimeoutMs,
      retries: this.d.retries,
      directory: 'errorLog',
      fileName: 'error.log',
    });
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
