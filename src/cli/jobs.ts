import type { JobSummary, ScheduleSummary } from '../fleet/answers.js';
import { ask, CliError, DaemonConnection, socketPath } from './client.js';
import { ago, table, time } from './format.js';

/** A job's line in `jobs` and `job` answers. */
type JobLine = JobSummary & { counts: Record<string, number> };

interface TargetLine {
  node: string;
  state: string;
  batch: number;
  id: string | null;
  updatedMs: number;
  detail: string | null;
  output: string | null;
}

const STATES = ['waiting', 'queued', 'running', 'ok', 'error', 'not-responding', 'cancelled', 'skipped'];

function countsText(c: Record<string, number>): string {
  return STATES.filter((s) => (c[s] ?? 0) > 0)
    .map((s) => `${s} ${c[s]}`)
    .join(', ');
}

function selectorText(s: JobLine['selector']): string {
  const names = s.names === '*' ? '*' : s.names.join(',');
  const where = Object.entries(s.where).map(([k, v]) => `${k}=${v}`);
  return where.length === 0 ? names : `${names} where ${where.join(',')}`;
}

function command(m: string, args: string[]): string {
  const text = `${m} ${args.join(' ')}`.trim();
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** `steward jobs`: the recent jobs with their counts, and the recurring ones. */
export async function jobs(o: { socket?: string; json: boolean; limit: string }): Promise<number> {
  const limit = Number(o.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new CliError(`--limit takes a whole number above 0, got "${o.limit}"`, 2);
  const answer = await ask(socketPath(o.socket), { control: 'jobs', limit });
  const list = answer.jobs as JobLine[];
  const schedules = answer.schedules as ScheduleSummary[];
  const now = Number(answer.now);
  if (o.json) {
    for (const j of list) process.stdout.write(`${JSON.stringify(j)}\n`);
    for (const s of schedules) process.stdout.write(`${JSON.stringify({ recurring: true, ...s })}\n`);
    return 0;
  }
  if (list.length === 0 && schedules.length === 0) {
    process.stderr.write('no job on this node yet (a send to more than one node, to *, or with --where makes one)\n');
    return 0;
  }
  process.stdout.write(
    table(
      ['JOB', 'STATE', 'AGE', 'TARGETS', 'COMMAND', 'NODES', 'COUNTS'],
      list.map((j) => [
        j.id,
        j.state,
        ago(now - j.createdMs),
        selectorText(j.selector),
        command(j.method, j.methodArgs),
        String(j.targets),
        countsText(j.counts),
      ]),
    ),
  );
  if (schedules.length > 0) {
    process.stdout.write('\n');
    process.stdout.write(
      table(
        ['RECURRING', 'STATE', 'EVERY', 'RUNS', 'NEXT RUN', 'LAST JOB', 'COMMAND'],
        schedules.map((s) => [
          s.id,
          s.state,
          ago(s.everyMs),
          String(s.runs),
          s.state === 'active' ? time(s.nextRunMs) : '-',
          s.lastJob ?? '-',
          command(s.method, s.methodArgs),
        ]),
      ),
    );
  }
  return 0;
}

/** `steward job <id> [--wait]`, `steward job cancel|pause|resume <id>`. */
export async function job(
  first: string,
  second: string | undefined,
  o: { socket?: string; json: boolean; wait: boolean },
): Promise<number> {
  const socket = socketPath(o.socket);
  if (first === 'cancel' || first === 'pause' || first === 'resume') {
    if (second === undefined) throw new CliError(`usage: steward job ${first} <id>`, 2);
    const answer = await ask(socket, { control: `job-${first}`, id: second });
    if (o.json) process.stdout.write(`${JSON.stringify(answer)}\n`);
    else if ('schedule' in answer && !('job' in answer)) {
      const s = answer.schedule as ScheduleSummary;
      process.stdout.write(`recurring job ${s.id}: ${s.state}${s.state === 'active' ? `, next run ${time(s.nextRunMs)}` : ''}\n`);
    } else printJob(answer, false);
    return 0;
  }
  if (second !== undefined) throw new CliError(`usage: steward job <id> [--wait], or steward job cancel|pause|resume <id>`, 2);
  if (!o.wait) {
    const answer = await ask(socket, { control: 'job', id: first });
    if (o.json) process.stdout.write(`${JSON.stringify(answer)}\n`);
    else printJob(answer, false);
    return exitOf(answer);
  }
  const conn = await DaemonConnection.open(socket, { control: 'job', id: first, wait: true });
  let view: Record<string, unknown> | undefined;
  let ended: Record<string, unknown> | undefined;
  for await (const line of conn) {
    if (typeof line.error === 'string') throw new CliError(line.error);
    if (o.json) process.stdout.write(`${JSON.stringify(line)}\n`);
    if (view === undefined) {
      view = line;
      if (!o.json) printJob(line, true);
      continue;
    }
    if (line.event === 'stopped') throw new CliError(`${String(line.reason)}: the job goes on; steward job ${first} shows it later`);
    if (line.event === 'target' && !o.json) {
      process.stdout.write(
        `${time(Date.now())}  ${String(line.node)}  ${String(line.state)}${typeof line.detail === 'string' ? `  ${line.detail}` : ''}\n`,
      );
    }
    if (line.event === 'job') {
      ended = line;
      break;
    }
  }
  conn.close();
  if (ended === undefined) {
    return view === undefined ? 1 : exitOf(view);
  }
  if (!o.json) {
    process.stdout.write(`job ${first}: ${String(ended.state)}, ${countsText(ended.counts as Record<string, number>)}\n`);
    if (typeof ended.reason === 'string') process.stdout.write(`${String(ended.state)}: ${ended.reason}\n`);
    const nr = ended.notResponding as string[];
    if (nr.length > 0) process.stdout.write(`no responses from: ${nr.join(', ')}\n`);
  }
  const counts = ended.counts as Record<string, number>;
  return ended.state === 'done' && Object.keys(counts).every((s) => s === 'ok') ? 0 : 1;
}

function exitOf(answer: Record<string, unknown>): number {
  if (!('job' in answer)) return 0;
  const j = answer.job as JobLine;
  const counts = answer.counts as Record<string, number>;
  return j.state === 'done' && Object.keys(counts).every((s) => s === 'ok') ? 0 : j.state === 'running' ? 0 : 1;
}

function printJob(answer: Record<string, unknown>, following: boolean): void {
  if ('schedule' in answer && !('job' in answer)) {
    const s = answer.schedule as ScheduleSummary;
    process.stdout.write(
      `recurring job ${s.id}: ${s.state}, every ${ago(s.everyMs)}, ${s.runs} run(s)` +
        (s.state === 'active' ? `, next ${time(s.nextRunMs)}` : '') +
        `\n${command(s.method, s.methodArgs)}\n\n`,
    );
    const runs = answer.runs as JobLine[];
    process.stdout.write(
      table(
        ['RUN', 'STATE', 'STARTED', 'COUNTS'],
        runs.map((j) => [j.id, j.state, time(j.createdMs), countsText(j.counts)]),
      ),
    );
    return;
  }
  const j = answer.job as JobLine;
  const targets = answer.targets as TargetLine[];
  process.stdout.write(
    `job ${j.id}: ${j.state}${j.reason === null ? '' : ` (${j.reason})`}, ${targets.length} node(s): ${countsText(answer.counts as Record<string, number>)}\n` +
      `${command(j.method, j.methodArgs)}  to ${selectorText(j.selector)}${j.schedule === null ? '' : `, run of recurring job ${j.schedule}`}\n\n`,
  );
  process.stdout.write(
    table(
      ['NODE', 'STATE', 'BATCH', 'UPDATED', 'MESSAGE', 'DETAIL'],
      targets.map((t) => [
        t.node,
        t.state,
        String(t.batch + 1),
        time(t.updatedMs),
        t.id ?? '-',
        (t.detail ?? '').split('\n')[0]?.slice(0, 100) ?? '',
      ]),
    ),
  );
  if (following) process.stdout.write('\n');
}
