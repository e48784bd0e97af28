import { useState } from 'preact/hooks';
import { get, q } from '../api.js';
import type { NodesAnswer } from '../types.js';
import { Time } from '../time.js';
import { Alert, Labels, State, useData } from '../ui.js';

/** Every node this daemon knows: online or not, its labels, its key, what waits for it. */
export function NodesPage() {
  const [filter, setFilter] = useState('');
  const { data, error } = useData(() => get<NodesAnswer>(`/api/nodes?where=${q(filter)}`), [filter], { pollMs: 2000 });
  const nodes = data?.nodes ?? [];
  const online = nodes.filter((n) => n.online).length;
  return (
    <>
      <h1>Nodes</h1>
      <div class="toolbar">
        <label for="node-filter">Filter by label</label>
        <input
          id="node-filter"
          type="search"
          placeholder="role=ship,site=north"
          value={filter}
          onInput={(e) => setFilter((e.target as HTMLInputElement).value)}
        />
        <span class="muted" aria-live="polite">
          {data === undefined ? 'loading…' : `${nodes.length} node(s), ${online} online`}
        </span>
      </div>
      <Alert text={error} />
      <div class="table-wrap">
        <table class="nodes">
          <thead>
            <tr>
              <th scope="col">Node</th>
              <th scope="col">State</th>
              <th scope="col">Last hello</th>
              <th scope="col">Labels</th>
              <th scope="col">Key</th>
              <th scope="col">Pending</th>
            </tr>
          </thead>
          <tbody>
            {nodes.map((n) => (
              <tr data-node={n.node}>
                <th scope="row">
                  <a href={`#/nodes/${q(n.node)}`}>{n.node}</a>
                </th>
                <td>
                  <State state={n.online ? 'online' : 'offline'} />
                </td>
                <td>
                  <Time ms={n.lastSeenMs} />
                </td>
                <td>
                  <Labels labels={n.labels} />
                </td>
                <td>
                  <State state={n.key} />
                </td>
                <td>{n.pending > 0 ? <a href="#/queue">{n.pending}</a> : 0}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
