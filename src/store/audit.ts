import fs from 'node:fs';
import path from 'node:path';

export type AuditOutcome = 'delivered' | 'failed' | 'cancelled';

/** Messages larger than this (file copy chunks) are logged without their data. */
const MAX_LOGGED_BYTES = 64 * 1024;

/**
 * The append-only audit log: one JSON line per finished message (delivered, failed, cancelled), with the whole message, so
 * it can be recreated (except the data of messages over 64 KiB, such as file copy chunks). Lines are batched per event-loop turn into one append.
 */
export class AuditLog {
  readonly file: string;
  private lines: string[] = [];
  private scheduled = false;

  constructor(folder: string) {
    fs.mkdirSync(folder, { recursive: true, mode: 0o700 });
    this.file = path.join(folder, 'audit.log');
  }

  /** `messageJson` is the message as JSON (as the outbox stores it): not serialized again. */
  record(outcome: AuditOutcome, messageJson: string, attempts: number, error?: string): void {
    if (messageJson.length > MAX_LOGGED_BYTES) messageJson = withoutData(messageJson);
    const err = error === undefined ? '' : `,"error":${JSON.stringify(error)}`;
    this.lines.push(`{"time":"${new Date().toISOString()}","outcome":"${outcome}","attempts":${attempts}${err},"message":${messageJson}}`);
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

/** The message with its data replaced by a note of its size. */
function withoutData(messageJson: string): string {
  const m = JSON.parse(messageJson) as { data?: string[] };
  const bytes = (m.data ?? []).reduce((n, d) => n + Buffer.byteLength(d), 0);
  return JSON.stringify({ ...m, data: [`(${bytes} bytes of data, not kept in the audit log)`] });
}
