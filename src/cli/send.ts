import fs from 'node:fs';
import { CliError, DaemonConnection, socketPath } from './client.js';

export interface SendOptions {
  to?: string;
  /** --where role=ship (repeatable): labels every target must have. */
  where?: string[];
  batch?: string;
  batchWait?: string;
  maxFailures?: string;
  every?: string;
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

/** A job the send made (to many nodes): its end, as the daemon told it. */
interface JobSeen {
  readonly id: string;
  readonly schedule: string | undefined;
  readonly startedMs: number;
  end?: JobEnd;
}

interface JobEnd {
  state: string;
  reason?: string;
  counts: Record<string, number>;
  failed: { node: string; detail: string }[];
  notResponding: string[];
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
  const jobs = new Map<string, JobSeen>();
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
    // A job is done when the daemon says so (its nodes that do not respond may never answer).
    if (jobs.size > 0 ? [...jobs.values()].some((j) => j.end === undefined) : count(targets).pending > 0) return;
    if (finishing !== undefined) clearTimeout(finishing);
    finishing = setTimeout(resolveDone, LATE_ERROR_MS);
  };
  /** The daemon's answer to the submit (its accepted lines) has come. */
  let answered: () => void = () => {};
  const answeredP = new Promise<void>((r) => (answered = r));
  const onSigint = async (): Promise<void> => {
    // Ctrl-C right after the submit: the daemon answers once the messages are on its disk, so
    // wait a moment for the ids, which the operator needs to follow or cancel them.
    await Promise.race([answeredP, new Promise((r) => setTimeout(r, 2000))]);
    const waiting = [...targets.values()].filter((t) => t.state === 'pending');
    process.stderr.write(`\n${waiting.length} message(s) still in flight, not cancelled:\n`);
    for (const t of waiting) process.stderr.write(`  ${t.id}  ${t.node}\n`);
    process.stderr.write('Follow them with: steward status <id>; stop them with: steward cancel <id>\n');
    conn.close();
    process.exit(130);
  };
  const sigint = (): void => void onSigint();
  process.once('SIGINT', sigint);
  const reading = (async () => {
    for await (const line of conn) {
      // The accepted lines come together; the first event or the end follows them.
      if (!('status' in line)) answered();
      if ('status' in line) {
        setImmediate(answered);
        if (line.status === 'accepted') {
          const t: Target = { id: String(line.id), node: String(line.toNode), state: 'pending', errors: [] };
          targets.set(t.id, t);
          if (typeof line.job === 'string' && !jobs.has(line.job)) {
            const schedule = typeof line.schedule === 'string' ? line.schedule : undefined;
            jobs.set(line.job, { id: line.job, schedule, startedMs: Date.now() });
            if (!o.json) out(`job ${line.job}${schedule === undefined ? '' : ` (recurring job ${schedule})`}\n`);
          }
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
      if (line.event === 'job') {
        const j = jobs.get(String(line.job));
        if (j !== undefined) j.end = line as unknown as JobEnd;
        checkDone();
        continue;
      }
      if (line.event === 'target') {
        // A job's target that will get no message (its rollout stopped, the job was cancelled),
        // or that does not respond (yet: with retries left it may still answer).
        const t = targets.get(String(line.id));
        const st = String(line.state);
        // An error report that came after its job ended (its reply had come first): the summary says so.
        const ended = jobs.get(String(line.job))?.end;
        if (ended !== undefined && st === 'error' && (ended.counts.ok ?? 0) > 0) {
          ended.counts.ok = (ended.counts.ok ?? 1) - 1;
          ended.counts.error = (ended.counts.error ?? 0) + 1;
          ended.failed.push({ node: String(line.node), detail: typeof line.detail === 'string' ? line.detail : '' });
        }
        if (t !== undefined && t.state === 'pending' && (st === 'skipped' || st === 'cancelled')) {
          t.state = 'failed';
          if (o.json) out(`${JSON.stringify({ node: t.node, id: t.id, status: st, error: line.detail })}\n`);
          else out(`--- ${t.node} ${st}: ${String(line.detail)}\n`);
        } else if (t !== undefined && t.state === 'pending' && st === 'not-responding' && !o.json) {
          out(`--- ${t.node} not responding: ${String(line.detail)}\n`);
        }
        progress();
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
    process.off('SIGINT', sigint);
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
  process.off('SIGINT', sigint);
  const c = count(targets);
  const withErrors = [...targets.values()].filter((t) => t.state === 'replied' && t.errors.length > 0).length;
  if (tty) process.stderr.write('\r\x1b[K');
  if (jobs.size > 0) return jobSummaries([...jobs.values()], o.json, rejected);
  if (!o.json) {
    process.stderr.write(
      `${targets.size} node(s): ${c.replied - withErrors} replied, ${withErrors} replied with errors, ${c.failed} failed` +
        (rejected > 0 ? `, ${rejected} message(s) refused` : '') +
        '\n',
    );
  }
  return targets.size > 0 && c.failed === 0 && withErrors === 0 && rejected === 0 && c.pending === 0 ? 0 : 1;
}

/**
 * The end of each job, in the spirit of Choria's summaries: counts per state, then the failed
 * nodes and the ones that did not respond, by name. Exit code 0 only when every node was ok.
 */
const SUMMARY_ORDER = ['ok', 'error', 'not-responding', 'skipped', 'cancelled', 'running', 'queued', 'waiting'];

function jobSummaries(jobs: JobSeen[], json: boolean, rejected: number): number {
  let allOk = rejected === 0;
  for (const j of jobs) {
    const end = j.end as JobEnd;
    const total = Object.values(end.counts).reduce((a, b) => a + b, 0);
    const ok = end.counts.ok ?? 0;
    if (end.state !== 'done' || ok !== total) allOk = false;
    if (json) {
      process.stdout.write(`${JSON.stringify({ job: j.id, schedule: j.schedule, ...end, event: undefined })}\n`);
      continue;
    }
    const counts = SUMMARY_ORDER.filter((s) => (end.counts[s] ?? 0) > 0)
      .map((s) => `${end.counts[s]} ${s.replace('-', ' ')}`)
      .join(', ');
    const secs = ((Date.now() - j.startedMs) / 1000).toFixed(1);
    process.stderr.write(`job ${j.id}: ${end.state} in ${secs} s, ${total} node(s): ${counts}\n`);
    if (end.reason !== undefined && end.state !== 'done') process.stderr.write(`${end.state}: ${end.reason}\n`);
    for (const f of end.failed) process.stderr.write(`failed: ${f.node}: ${f.detail.split('\n')[0] ?? ''}\n`);
    if (end.notResponding.length > 0) process.stderr.write(`no responses from: ${end.notResponding.join(', ')}\n`);
    if (j.schedule !== undefined) process.stderr.write(`recurring job ${j.schedule}: steward job ${j.schedule} shows its runs\n`);
  }
  if (rejected > 0 && !json) process.stderr.write(`${rejected} message(s) refused\n`);
  return allOk ? 0 : 1;
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
  const where = o.where ?? [];
  if ((o.to === undefined || o.to.trim() === '') && where.length === 0)
    throw new CliError("say which nodes: --to ship1,ship2, --to '*', --where role=ship (or --file msg.json)", 2);
  if (args.length === 0) throw new CliError("say what to run after --, e.g. steward send --to ship1 -- bash -c 'uptime'", 2);
  const int = (v: string | undefined, name: string): number | undefined => {
    if (v === undefined) return undefined;
    if (!/^-?\d+$/.test(v)) throw new CliError(`--${name} takes a whole number, got "${v}"`, 2);
    return Number(v);
  };
  const msg: Record<string, unknown> = {
    toNodes: (o.to ?? '*')
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
  if (where.length > 0) msg.where = whereOf(where);
  if (o.batch !== undefined || o.batchWait !== undefined || o.maxFailures !== undefined) {
    msg.rollout = {
      ...(o.batch === undefined ? {} : { batch: o.batch }),
      ...(o.batchWait === undefined ? {} : { batchWait: o.batchWait }),
      ...(o.maxFailures === undefined ? {} : { maxFailures: o.maxFailures }),
    };
  }
  if (o.every !== undefined) msg.every = o.every;
  return JSON.stringify([msg]);
}

/** `--where role=ship --where site=north` (or `role=ship,site=north`) as a message's "where". */
export function whereOf(list: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list)
    for (const part of item.split(',')) {
      const eq = part.indexOf('=');
      if (eq <= 0) throw new CliError(`--where ${part}: give key=value, e.g. --where role=ship`, 2);
      out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
    }
  return out;
}
