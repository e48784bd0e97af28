import fs from 'node:fs';
import path from 'node:path';
import type { Message } from '../message/message.js';

export type AuditOutcome = 'delivered' | 'failed';

/**
 * The append-only audit log: one JSON line per finished message, with the whole message, so
 * it can be recreated. Lines are batched per event-loop turn into one append.
 */
export class AuditLog {
  readonly file: string;
  private lines: string[] = [];
  private scheduled = false;

  constructor(folder: string) {
    fs.mkdirSync(folder, { recursive: true, mode: 0o700 });
    this.file = path.join(folder, 'audit.log');
  }

  record(outcome: AuditOutcome, msg: Message, attempts: number, error?: string): void {
    const entry = { time: new Date().toISOString(), outcome, attempts, ...(error === undefined ? {} : { error }), message: msg };
    this.lines.push(JSON.stringify(entry));
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.scheduled = false;
    if (this.lines.length === 0) return;
    const text = this.lines.join('\n') + '\n';
    this.lines = [];
    fs.appendFileSync(this.file, text, { mode: 0o600 });
  }
}
