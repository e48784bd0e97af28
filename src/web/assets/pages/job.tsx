import { useEffect, useRef, useState } from 'preact/hooks';
import { get, post, q, type SessionInfo } from '../api.js';
import { onLive } from '../live.js';
import { selectorText, type JobAnswer, type Target } from '../types.js';
import { Time } from '../time.js';
import { ActionButton, Alert, Counts, State, markRendered } from '../ui.js';

/** Fixed row height: the list renders only the rows in view (a job of thousands of nodes stays fast). */
const ROW = 36;
const VIEW_ROWS = 14;

function countsOf(targets: Target[]): Record<string, number> {
  const c: Record<string, number> = {};
  for (const t of targets) c[t.state] = (c[t.state] ?? 0) + 1;
  return c;
}

/** One job: a row per target, live; each node's output on demand; cancel; send again to the failed nodes. */
export function JobPage({ id, info }: { id: string; info: SessionInfo }) {
  const [data, setData] = useState<JobAnswer | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [schedule, setSchedule] = useState<Record<string, unknown> | undefined>(undefined);
  const [open, setOpen] = useState<string | undefined>(undefined);
  const [scroll, setScroll] = useState(0);
  const [, setVersion] = useState(0);
  const rows = useRef<Target[]>([]);
  const load = (): void => {
    get<JobAnswer & { schedule?: Record<string, unknown> }>(`/api/jobs/${q(id)}`).then(
      (d) => {
        if (d.schedule !== undefined) setSchedule(d as unknown as Record<string, unknown>);
        else {
          rows.current = d.targets;
          setData(d);
        }
        markRendered();
      },
      (e: Error) => setError(e.message),
    );
  };
  useEffect(() => {
    load();
    // Events change the rows in place; one render per batch of events (the daemon sends them at most ten times a second).
    return onLive((events) => {
      let changed = false;
      let reload = false;
      for (const ev of events) {
        if (ev.event === 'ready' || (ev.event === 'job' && ev.job === id) || ev.event === 'overflow') reload = true;
        else if (ev.event === 'target' && ev.job === id) {
          const t = rows.current.find((r) => r.node === ev.node);
          if (t !== undefined) {
            t.state = String(ev.state);
            t.updatedMs = Date.now();
            if (typeof ev.detail === 'string') t.detail = ev.detail;
            if (typeof ev.id === 'string') t.id = ev.id;
            changed = true;
          }
        } else if (ev.event === 'reply' && typeof ev.id === 'string' && ev.id.startsWith(`${id}-t`)) {
          const t = rows.current.find((r) => r.id === ev.id);
          if (t !== undefined) {
            t.output = String(ev.data).slice(0, 400);
            t.outputLength = String(ev.data).length;
            changed = true;
          }
        }
      }
      if (reload) load();
      else if (changed) setVersion((v) => v + 1);
    });
  }, [id]);
  if (schedule !== undefined) return <ScheduleView id={id} answer={schedule} />;
  const targets = rows.current;
  const counts = countsOf(targets);
  const failed = targets.filter((t) => t.state === 'error');
  const silent = targets.filter((t) => t.state === 'not-responding');
  const job = data?.job;
  const first = Math.max(0, Math.floor(scroll / ROW) - 5);
  const visible = targets.slice(first, first + VIEW_ROWS + 10);
  const dataBase =
    info.dataFolder === null ? undefined : `${info.dataFolder.tls ? 'https' : 'http'}://${location.hostname}:${info.dataFolder.port}`;
  return (
    <>
      <p class="crumbs">
        <a href="#/jobs">Jobs</a> /
      </p>
      <h1>Job {id}</h1>
      <Alert text={error} />
      {job === undefined ? (
        <p class="muted">loading…</p>
      ) : (
        <>
          <dl class="facts">
            <dt>State</dt>
            <dd>
              <State state={job.state} /> {job.reason ? <span class="muted">{job.reason}</span> : null}
            </dd>
            <dt>Command</dt>
            <dd>
              <code>{[job.method, ...job.methodArgs].join(' ')}</code>
            </dd>
            <dt>Targets</dt>
            <dd>
              {selectorText(job.selector)} ({targets.length} node(s))
            </dd>
            <dt>Created</dt>
            <dd>
              <Time ms={job.createdMs} />
            </dd>
            <dt>Counts</dt>
            <dd id="job-counts">
              <Counts counts={counts} />
            </dd>
          </dl>
          <div class="toolbar">
            {job.state === 'running' ? (
              <ActionButton
                label="Cancel the job"
                kind="danger"
                confirm={`Cancel job ${id}? What has not run is cancelled.`}
                run={() => post(`/api/jobs/${q(id)}/cancel`).then(load)}
              />
            ) : null}
            {failed.length + silent.length > 0 ? (
              <ActionButton
                label={`Send again to the ${failed.length + silent.length} failed node(s)`}
                run={() =>
                  post<{ job: string | null }>(`/api/jobs/${q(id)}/retry`).then((r) => {
                    if (r.job !== null) location.hash = `#/jobs/${r.job}`;
                  })
                }
              />
            ) : null}
          </div>
          {silent.length > 0 ? (
            <p class="notice" id="not-responding">
              Not responding: {silent.map((t) => t.node).join(', ')}
            </p>
          ) : null}
          {failed.length > 0 ? (
            <p class="notice" id="failed">
              Failed: {failed.map((t) => t.node).join(', ')}
            </p>
          ) : null}
        </>
      )}
      <div class="vlist-head" aria-hidden="true">
        <span>Node</span>
        <span>State</span>
        <span>Updated</span>
        <span>Output or detail</span>
        <span />
      </div>
      <div
        class="vlist"
        role="table"
        aria-label={`targets of job ${id}`}
        aria-rowcount={targets.length}
        tabIndex={0}
        style={{ height: `${Math.min(targets.length, VIEW_ROWS) * ROW + 2}px` }}
        onScroll={(e) => setScroll((e.target as HTMLElement).scrollTop)}
      >
        <div style={{ height: `${targets.length * ROW}px`, position: 'relative' }} role="rowgroup">
          {visible.map((t, i) => (
            <div
              class="vrow"
              role="row"
              data-node={t.node}
              data-state={t.state}
              aria-rowindex={first + i + 1}
              style={{ top: `${(first + i) * ROW}px`, height: `${ROW}px` }}
            >
              <span role="cell" class="node">
                <a href={`#/nodes/${q(t.node)}`}>{t.node}</a>
              </span>
              <span role="cell">
                <State state={t.state} />
              </span>
              <span role="cell">
                <Time ms={t.updatedMs} />
              </span>
              <span role="cell" class="clip output-head">
                {t.detail ?? t.output ?? ''}
              </span>
              <span role="cell">
                <button
                  type="button"
                  aria-expanded={open === t.node}
                  aria-controls="output-panel"
                  aria-label={`${open === t.node ? 'Hide the' : 'Show the'} output of ${t.node}`}
                  onClick={() => setOpen(open === t.node ? undefined : t.node)}
                >
                  {open === t.node ? 'Hide' : 'Output'}
                </button>
              </span>
            </div>
          ))}
        </div>
      </div>
      {open === undefined ? null : <Output id={id} node={open} results={data?.results ?? null} dataBase={dataBase} />}
    </>
  );
}

function Output({
  id,
  node,
  results,
  dataBase,
}: {
  id: string;
  node: string;
  results: JobAnswer['results'];
  dataBase: string | undefined;
}) {
  const [t, setT] = useState<Target | undefined>(undefined);
  const [err, setErr] = useState<string | undefined>(undefined);
  useEffect(() => {
    get<Target>(`/api/jobs/${q(id)}/output/${q(node)}`).then(setT, (e: Error) => setErr(e.message));
  }, [id, node]);
  const file =
    results === null || dataBase === undefined
      ? undefined
      : `${dataBase}/${[results.directory, node, results.fileName]
          .filter((p) => p !== '')
          .map((p) => p.split('/').map(q).join('/'))
          .join('/')}`;
  return (
    <section id="output-panel" class="output" aria-label={`output of ${node}`}>
      <h2>
        {node} <span class="muted">{t?.id ?? ''}</span>
      </h2>
      <Alert text={err} />
      {t?.detail ? <p class="alert">{t.detail}</p> : null}
      <pre class="output-text">{t === undefined ? 'loading…' : (t.output ?? '(no output)')}</pre>
      {file === undefined ? null : (
        <p>
          Result file: <a href={file}>{file.replace(dataBase ?? '', '')}</a>
        </p>
      )}
    </section>
  );
}

function ScheduleView({ id, answer }: { id: string; answer: Record<string, unknown> }) {
  const s = answer.schedule as { state: string; everyMs: number; nextRunMs: number; method: string; methodArgs: string[] };
  const runs = (answer.runs ?? []) as { id: string; state: string; createdMs: number; counts?: Record<string, number> }[];
  return (
    <>
      <p class="crumbs">
        <a href="#/jobs">Jobs</a> /
      </p>
      <h1>Recurring job {id}</h1>
      <p>
        <State state={s.state} /> every {Math.round(s.everyMs / 1000)} s: <code>{[s.method, ...s.methodArgs].join(' ')}</code>
      </p>
      <div class="toolbar">
        {s.state === 'active' ? (
          <ActionButton label="Pause" run={() => post(`/api/jobs/${q(id)}/pause`).then(() => location.reload())} />
        ) : null}
        {s.state === 'paused' ? (
          <ActionButton label="Resume" run={() => post(`/api/jobs/${q(id)}/resume`).then(() => location.reload())} />
        ) : null}
      </div>
      <ul>
        {runs.map((r) => (
          <li>
            <a href={`#/jobs/${q(r.id)}`}>{r.id}</a> <State state={r.state} /> <Time ms={r.createdMs} /> <Counts counts={r.counts} />
          </li>
        ))}
      </ul>
    </>
  );
}
