import { get, post, q } from '../api.js';
import { selectorText, type Job, type Schedule } from '../types.js';
import { Time } from '../time.js';
import { ActionButton, Alert, Counts, Section, State, useData } from '../ui.js';

interface JobsAnswer {
  jobs: Job[];
  schedules: Schedule[];
}

/** The recent jobs with their counts, and the recurring ones. */
export function JobsPage() {
  const { data, error, reload } = useData(() => get<JobsAnswer>('/api/jobs?limit=100'), [], {
    pollMs: 10_000,
    refetchOn: (e) => e.event === 'job' || e.event === 'target',
  });
  const act = (id: string, action: string) => () => post(`/api/jobs/${q(id)}/${action}`).then(reload);
  return (
    <>
      <h1>Jobs</h1>
      <Alert text={error} />
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Job</th>
              <th scope="col">State</th>
              <th scope="col">Created</th>
              <th scope="col">Targets</th>
              <th scope="col">Command</th>
              <th scope="col">Nodes</th>
              <th scope="col">Counts</th>
            </tr>
          </thead>
          <tbody>
            {(data?.jobs ?? []).map((j) => (
              <tr data-job={j.id}>
                <th scope="row">
                  <a href={`#/jobs/${q(j.id)}`}>{j.id}</a>
                </th>
                <td>
                  <State state={j.state} />
                </td>
                <td>
                  <Time ms={j.createdMs} />
                </td>
                <td>{selectorText(j.selector)}</td>
                <td>
                  <code>{[j.method, ...j.methodArgs].join(' ')}</code>
                </td>
                <td>{j.targets}</td>
                <td>
                  <Counts counts={j.counts} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {data !== undefined && data.jobs.length === 0 ? (
        <p class="muted">
          No job yet: <a href="#/send">send one</a>.
        </p>
      ) : null}
      {data !== undefined && data.schedules.length > 0 ? (
        <Section title="Recurring jobs">
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Schedule</th>
                  <th scope="col">State</th>
                  <th scope="col">Every</th>
                  <th scope="col">Next run</th>
                  <th scope="col">Runs</th>
                  <th scope="col">Command</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {data.schedules.map((s) => (
                  <tr>
                    <th scope="row">
                      <a href={`#/jobs/${q(s.id)}`}>{s.id}</a>
                    </th>
                    <td>
                      <State state={s.state} />
                    </td>
                    <td>{Math.round(s.everyMs / 1000)} s</td>
                    <td>{s.state === 'active' ? <Time ms={s.nextRunMs} /> : <span class="muted">paused</span>}</td>
                    <td>{s.lastJob === null ? s.runs : <a href={`#/jobs/${q(s.lastJob)}`}>{s.runs}</a>}</td>
                    <td>
                      <code>{[s.method, ...s.methodArgs].join(' ')}</code>
                    </td>
                    <td class="actions">
                      {s.state === 'active' ? (
                        <ActionButton label="Pause" run={act(s.id, 'pause')} />
                      ) : (
                        <ActionButton label="Resume" run={act(s.id, 'resume')} />
                      )}
                      <ActionButton label="Cancel" kind="danger" confirm={`Cancel the recurring job ${s.id}?`} run={act(s.id, 'cancel')} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </Section>
      ) : null}
    </>
  );
}
