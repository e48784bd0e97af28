import fs from 'node:fs';
import { CliError, DaemonConnection, socketPath } from './client.js';

export interface SendOptions {
  to?: string;
  method: string;
  timeout?: string;
  retries?: string;
  ackTimeout?: string;
  directory: string;
  fileName?: string;
  replyMethod?: string;
  file?: string;
  wait: boolean;
  json: boolean;
  socket?: string;
}

/** After an error report about a message, how long its reply may still come. */
const REPLY_AFTER_ERROR_MS = 2000;
/** After the last reply, how long an error report about it may still come. */
const LATE_ERROR_MS = 250;

type State = 'pending' | 'replied' | 'failed';

interface Target {
  id: string;
  node: string;
  state: State;
  errors: string[];
  errorTimer?: NodeJS.Timeout;
}

/**
 * `steward send`: submits a command (or a message file) through the local node's socket and,
 * unless --no-wait, prints each node's output as it arrives and a summary. Exit code 0 only
 * when every node replied without an error.
 */
export async function send(args: string[], o: SendOptions): Promise<number> {
  const request = { control: 'send', input: buildInput(args, o), watch: o.wait };
  const conn = await DaemonConnection.open(socketPath(o.socket), request);
  const targets = new Map<string, Target>();
  const tty = process.stderr.isTTY && !o.json;
  let rejected = 0;
  /** The daemon stopped while we waited (its last event says why). */
  let stoppedReason: string | undefined;
  const out = (line: string): void => {
    if (tty) process.stderr.write('\r\x1b[K');
    process.stdout.write(line);
  };
  const progress = (): void => {
    if (!tty) return;
    const c = count(targets);
    process.stderr.write(`\r\x1b[Kreplied ${c.replied}/${targets.size}, pending ${c.pending}, failed ${c.failed}`);
  };
  let finishing: NodeJS.Timeout | undefined;
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((r) => (resolveDone = r));
  const checkDone = (): void => {
    if (count(targets).pending > 0) return;
    if (finishing !== undefined) clearTimeout(finishing);
    finishing = setTimeout(resolveDone, LATE_ERROR_MS);
  };
  const onSigint = (): void => {
    const waiting = [...targets.values()].filter((t) => t.state === 'pending');
    process.stderr.write(`\n${waiting.length} message(s) still in flight, not cancelled:\n`);
    for (const t of waiting) process.stderr.write(`  ${t.id}  ${t.node}\n`);
    process.stderr.write('Follow them with: steward status <id>; stop them with: steward cancel <id>\n');
    conn.close();
    process.exit(130);
  };
  process.once('SIGINT', onSigint);
  const reading = (async () => {
    for await (const line of conn) {
      if ('status' in line) {
        if (line.status === 'accepted') {
          const t: Target = { id: String(line.id), node: String(line.toNode), state: 'pending', errors: [] };
          targets.set(t.id, t);
          if (!o.wait) out(o.json ? `${JSON.stringify(line)}\n` : `${t.id}  ${t.node}  accepted\n`);
        } else {
          rejected++;
          process.stderr.write(`${tty ? '\r\x1b[K' : ''}error: ${String(line.error)}\n`);
        }
        continue;
      }
      if (line.event === 'stopped') {
        stoppedReason = String(line.reason);
        continue;
      }
      const t = targets.get(String(line.id));
      if (t === undefined) continue;
      if (line.event === 'reply' && t.state === 'pending') {
        t.state = 'replied';
        if (t.errorTimer !== undefined) clearTimeout(t.errorTimer);
        const data = String(line.data);
        if (o.json)
          out(
            `${JSON.stringify({ node: t.node, id: t.id, status: t.errors.length > 0 ? 'error' : 'replied', output: data, errors: t.errors })}\n`,
          );
        else out(`--- ${t.node} (${t.id})\n${data}${data === '' || data.endsWith('\n') ? '' : '\n'}`);
      } else if (line.event === 'error') {
        t.errors.push(String(line.text));
        if (!o.json) out(`--- ${t.node} error: ${String(line.text)}\n`);
        if (t.state === 'pending') {
          // A method that failed may send no reply at all (a command that could not start).
          t.errorTimer = setTimeout(() => {
            if (t.state !== 'pending') return;
            t.state = 'replied';
            if (o.json) out(`${JSON.stringify({ node: t.node, id: t.id, status: 'error', output: null, errors: t.errors })}\n`);
            progress();
            checkDone();
          }, REPLY_AFTER_ERROR_MS);
        }
      } else if ((line.event === 'failed' || line.event === 'cancelled') && t.state === 'pending') {
        t.state = 'failed';
        const why = line.event === 'cancelled' ? 'cancelled' : String(line.error);
        if (o.json) out(`${JSON.stringify({ node: t.node, id: t.id, status: 'failed', error: why })}\n`);
        else out(`--- ${t.node} failed: ${why}\n`);
      }
      progress();
      checkDone();
    }
  })();
  if (!o.wait) {
    await reading;
    process.off('SIGINT', onSigint);
    return targets.size > 0 && rejected === 0 ? 0 : 1;
  }
  // Done when every node has answered; the daemon closes the stream only when nothing was accepted.
  const how = await Promise.race([done.then(() => 'done' as const), reading.then(() => 'closed' as const)]);
  if (how === 'closed' && count(targets).pending > 0) {
    const waiting = [...targets.values()].filter((t) => t.state === 'pending');
    const ids = waiting.map((t) => `  ${t.id}  ${t.node}`).join('\n');
    throw new CliError(
      `${stoppedReason ?? 'the daemon closed the connection'} before every node answered; ${waiting.length} message(s) still in flight, not cancelled:\n${ids}\nfollow them with steward status <id> once it runs again`,
    );
  }
  conn.close();
  process.off('SIGINT', onSigint);
  const c = count(targets);
  const withErrors = [...targets.values()].filter((t) => t.state === 'replied' && t.errors.length > 0).length;
  if (tty) process.stderr.write('\r\x1b[K');
  if (!o.json) {
    process.stderr.write(
      `${targets.size} node(s): ${c.replied - withErrors} replied, ${withErrors} replied with errors, ${c.failed} failed` +
        (rejected > 0 ? `, ${rejected} message(s) refused` : '') +
        '\n',
    );
  }
  return targets.size > 0 && c.failed === 0 && withErrors === 0 && rejected === 0 && c.pending === 0 ? 0 : 1;
}

function count(targets: Map<string, Target>): Record<State, number> {
  const c: Record<State, number> = { pending: 0, replied: 0, failed: 0 };
  for (const t of targets.values()) c[t.state]++;
  return c;
}

function buildInput(args: string[], o: SendOptions): string {
  if (o.file !== undefined) {
    if (args.length > 0 || o.to !== undefined) throw new CliError('give either --file or --to with a command, not both', 2);
    try {
      return fs.readFileSync(o.file, 'utf8');
    } catch (err) {
      throw new CliError(`cannot read ${o.file}: ${(err as Error).message}`, 2);
    }
  }
  if (o.to === undefined || o.to.trim() === '') throw new CliError('say which nodes: --to ship1,ship2 (or --file msg.json)', 2);
  if (args.length === 0) throw new CliError("say what to run after --, e.g. steward send --to ship1 -- bash -c 'uptime'", 2);
  const int = (v: string | undefined, name: string): number | undefined => {
    if (v === undefined) return undefined;
    if (!/^-?\d+$/.test(v)) throw new CliError(`--${name} takes a whole number, got "${v}"`, 2);
    return Number(v);
  };
  const msg: Record<string, unknown> = {
    toNodes: o.to
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
    method: o.method,
    methodArgs: args,
    directory: o.directory,
    fileName: o.fileName ?? `${o.method}.log`,
  };
  const fields: [string, number | undefined][] = [
    ['methodTimeout', int(o.timeout, 'timeout')],
    ['retries', int(o.retries, 'retries')],
    ['ACKTimeout', int(o.ackTimeout, 'ack-timeout')],
  ];
  for (const [k, v] of fields) if (v !== undefined) msg[k] = v;
  if (o.replyMethod !== undefined) msg.replyMethod = o.replyMethod;
  return JSON.stringify([msg]);
}
