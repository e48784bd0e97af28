import { get, post, q } from '../api.js';
import { Time } from '../time.js';
import { ActionButton, Alert, useData } from '../ui.js';

interface QueueAnswer {
  now: number;
  destinations: {
    node: string;
    pending: number;
    oldestMs: number;
    inFlight: { id: string; method: string; attempts: number; retries: number; nextTryMs: number | null; lastError: string | null }[];
  }[];
}

/** The messages waiting to be delivered, per destination node; cancel one, or all for a node. */
export function QueuePage() {
  const { data, error, reload } = useData(() => get<QueueAnswer>('/api/queue'), [], {
    pollMs: 2000,
    refetchOn: (e) => ['delivered', 'failed', 'cancelled', 'unanswered'].includes(e.event),
  });
  const dests = data?.destinations ?? [];
  return (
    <>
      <h1>Queue</h1>
      <Alert text={error} />
      {data !== undefined && dests.length === 0 ? <p class="muted">Nothing waits: every message was delivered.</p> : null}
      {dests.map((d) => (
        <section class="dest" aria-label={`messages for ${d.node}`} data-node={d.node}>
          <div class="section-head">
            <h2>
              <a href={`#/nodes/${q(d.node)}`}>{d.node}</a>
            </h2>
            <span>
              {d.pending} pending, oldest <Time ms={d.oldestMs} />
            </span>
            <ActionButton
              label={`Cancel all for ${d.node}`}
              kind="danger"
              confirm={`Cancel the ${d.pending} message(s) waiting for ${d.node}?`}
              run={() => post('/api/cancel', { to: d.node }).then(reload)}
            />
          </div>
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Message</th>
                  <th scope="col">Method</th>
                  <th scope="col">Attempts</th>
                  <th scope="col">Next try</th>
                  <th scope="col">Last error</th>
                  <th scope="col">Action</th>
                </tr>
              </thead>
              <tbody>
                {d.inFlight.map((m) => (
                  <tr data-id={m.id}>
                    <th scope="row">
                      <code>{m.id}</code>
                    </th>
                    <td>{m.method}</td>
                    <td>
                      {m.attempts} of {m.retries === -1 ? '∞' : m.retries + 1}
                    </td>
                    <td>
                      <Time ms={m.nextTryMs} />
                    </td>
                    <td class="clip">{m.lastError ?? ''}</td>
                    <td>
                      <ActionButton
                        label="Cancel"
                        name={`Cancel message ${m.id}`}
                        run={() => post('/api/cancel', { ids: [m.id] }).then(reload)}
                      />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {d.pending > d.inFlight.length ? <p class="muted">{d.pending - d.inFlight.length} more wait in the store behind these.</p> : null}
        </section>
      ))}
    </>
  );
}
