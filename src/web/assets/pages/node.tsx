import { get, q } from '../api.js';
import type { ErrorLine, Job, NodeRow, Target } from '../types.js';
import { Time } from '../time.js';
import { Alert, Labels, Section, State, useData } from '../ui.js';

interface NodeAnswer {
  node: NodeRow | null;
  jobs: { job: Job; target: Target }[];
  errors: ErrorLine[];
}

/** One node: its state, its part in the recent jobs, its error lines. */
export function NodePage({ name }: { name: string }) {
  const { data, error } = useData(() => get<NodeAnswer>(`/api/nodes/${q(name)}`), [name], {
    pollMs: 10_000,
    refetchOn: (e) => e.event === 'errorlog' || (e.event === 'target' && e.node === name),
  });
  const n = data?.node;
  return (
    <>
      <p class="crumbs">
        <a href="#/nodes">Nodes</a> /
      </p>
      <h1>{name}</h1>
      <Alert text={error} />
      {data !== undefined && n === null ? <p>This daemon has not heard from {name}.</p> : null}
      {n ? (
        <dl class="facts">
          <dt>State</dt>
          <dd>
            <State state={n.online ? 'online' : 'offline'} />
          </dd>
          <dt>Last hello</dt>
          <dd>
            <Time ms={n.lastSeenMs} />
          </dd>
          <dt>Labels</dt>
          <dd>
            <Labels labels={n.labels} />
          </dd>
          <dt>Key</dt>
          <dd>
            <a href="#/keys">
              <State state={n.key} />
            </a>
          </dd>
          <dt>Pending messages</dt>
          <dd>{n.pending > 0 ? <a href="#/queue">{n.pending}</a> : 0}</dd>
        </dl>
      ) : null}
      <Section title="Recent jobs">
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Job</th>
                <th scope="col">Command</th>
                <th scope="col">State here</th>
                <th scope="col">Updated</th>
                <th scope="col">Detail or output</th>
              </tr>
            </thead>
            <tbody>
              {(data?.jobs ?? []).map(({ job, target }) => (
                <tr>
                  <td>
                    <a href={`#/jobs/${q(job.id)}`}>{job.id}</a>
                  </td>
                  <td>
                    <code>{[job.method, ...job.methodArgs].join(' ')}</code>
                  </td>
                  <td>
                    <State state={target.state} />
                  </td>
                  <td>
                    <Time ms={target.updatedMs} />
                  </td>
                  <td class="clip">{target.detail ?? target.output ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {data !== undefined && data.jobs.length === 0 ? <p class="muted">No recent job went to {name}.</p> : null}
      </Section>
      <Section title="Error lines">
        <ul class="errors">
          {(data?.errors ?? []).map((l) => (
            <li>
              <span class="muted">{l.time}</span> {l.text}
            </li>
          ))}
        </ul>
        {data !== undefined && data.errors.length === 0 ? <p class="muted">No error line from {name} in the error log.</p> : null}
      </Section>
    </>
  );
}
