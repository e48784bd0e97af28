import { get, post, q } from '../api.js';
import { Time } from '../time.js';
import { ActionButton, Alert, State, useData } from '../ui.js';

interface KeysAnswer {
  self: { name: string; publicKey: string; fingerprint: string };
  mode: string;
  keys: { name: string; publicKey: string; fingerprint: string; state: string; source: string; firstSeenMs: number; lastSeenMs: number }[];
}

/** The keys this node bound to node names: pinned, pending (waiting for an operator) and revoked; accept and revoke. */
export function KeysPage() {
  const { data, error, reload } = useData(() => get<KeysAnswer>('/api/keys'), [], { pollMs: 5000 });
  const keys = data?.keys ?? [];
  const order = { pending: 0, pinned: 1, revoked: 2 } as Record<string, number>;
  return (
    <>
      <h1>Keys</h1>
      <Alert text={error} />
      {data === undefined ? null : (
        <p>
          This node, {data.self.name}: <code>{data.self.fingerprint}</code>. New keys: <strong>{data.mode}</strong>
          {data.mode === 'manual' ? ' (they wait here for an operator)' : data.mode === 'tofu' ? ' (pinned on first use)' : ''}.
        </p>
      )}
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Node</th>
              <th scope="col">State</th>
              <th scope="col">Source</th>
              <th scope="col">Fingerprint</th>
              <th scope="col">First seen</th>
              <th scope="col">Last seen</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {[...keys]
              .sort((a, b) => (order[a.state] ?? 3) - (order[b.state] ?? 3) || a.name.localeCompare(b.name))
              .map((k) => (
                <tr data-key={k.name}>
                  <th scope="row">
                    <a href={`#/nodes/${q(k.name)}`}>{k.name}</a>
                  </th>
                  <td>
                    <State state={k.state} />
                  </td>
                  <td>{k.source}</td>
                  <td>
                    <code title={k.publicKey}>{k.fingerprint}</code>
                  </td>
                  <td>
                    <Time ms={k.firstSeenMs} />
                  </td>
                  <td>
                    <Time ms={k.lastSeenMs} />
                  </td>
                  <td class="actions">
                    {k.state !== 'pinned' ? (
                      <ActionButton label={`Accept ${k.name}`} run={() => post(`/api/keys/${q(k.name)}/accept`).then(reload)} />
                    ) : null}
                    {k.state !== 'revoked' ? (
                      <ActionButton
                        label={`Revoke ${k.name}`}
                        kind="danger"
                        confirm={`Revoke the key of ${k.name}? Nothing from it is taken then.`}
                        run={() => post(`/api/keys/${q(k.name)}/revoke`).then(reload)}
                      />
                    ) : null}
                  </td>
                </tr>
              ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
