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
  /** The log, kept open; checked against its path at most once a second (a rotated log is opened anew). */
  private fd: number | undefined;
  private ino = 0;
  private checkedMs = 0;

  constructor(folder: string) {
    fs.mkdirSync(folder, { recursive: true, mode: 0o700 });
    this.file = path.join(folder, 'audit.log');
  }

  /** `messageJson` is the message as JSON (as the outbox stores it): not serialized again. */
  record(outcome: AuditOutcome, messageJson: string, attempts: number, error?: string): void {
    if (messageJson.length > MAX_LOGGED_BYTES) messageJson = withoutData(messageJson);
    const err = error === undefined ? '' : `,"error":${JSON.stringify(error)}`;
    this.push(`{"time":"${new Date().toISOString()}","outcome":"${outcome}","attempts":${attempts}${err},"message":${messageJson}}`);
  }

  /**
   * A message refused before it was received: unproven, or denied by the policy. The line names
   * the subject, the node it came from (as proven, or as claimed when unproven), the rule and the
   * reason, and the message when it could be read.
   */
  refused(r: { subject: string; from: string; error: string; rule?: string; messageJson?: string }): void {
    let json = r.messageJson;
    if (json !== undefined && json.length > MAX_LOGGED_BYTES) json = withoutData(json);
    const fields = [
      `"time":"${new Date().toISOString()}"`,
      '"outcome":"refused"',
      `"subject":${JSON.stringify(r.subject.slice(0, 300))}`,
      `"from":${JSON.stringify(r.from)}`,
      ...(r.rule === undefined ? [] : [`"rule":${JSON.stringify(r.rule)}`]),
      `"error":${JSON.stringify(r.error)}`,
      ...(json === undefined ? [] : [`"message":${json}`]),
    ];
    this.push(`{${fields.join(',')}}`);
  }

  /** Security events (keys pinned, refused, rotated; operator decisions), one line each. */
  event(kind: string, fields: Record<string, string>): void {
    this.push(JSON.stringify({ time: new Date().toISOString(), outcome: kind, ...fields }));
  }

  private push(line: string): void {
    this.lines.push(line);
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
    fs.writeSync(this.open(), text);
  }

  /** Closes the log (at stop); a later record opens it again. */
  close(): void {
    this.flush();
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }

  private open(): number {
    const now = Date.now();
    if (this.fd !== undefined && now - this.checkedMs >= 1000) {
      this.checkedMs = now;
      if (fs.statSync(this.file, { throwIfNoEntry: false })?.ino !== this.ino) {
        fs.closeSync(this.fd);
        this.fd = undefined;
      }
    }
    if (this.fd === undefined) {
      this.fd = fs.openSync(this.file, 'a', 0o600);
      fs.fchmodSync(this.fd, 0o600);
      this.ino = fs.fstatSync(this.fd).ino;
      this.checkedMs = now;
    }
    return this.fd;
  }
}

/** The message with its data replaced by a note of its size. */
function withoutData(messageJson: string): string {
  const m = JSON.parse(messageJson) as { data?: string[] };
  const bytes = (m.data ?? []).reduce((n, d) => n + Buffer.byteLength(d), 0);
  return JSON.stringify({ ...m, data: [`(${bytes} bytes of data, not kept in the audit log)`] });
}
