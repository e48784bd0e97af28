import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { session, type SessionInfo } from './api.js';
import { connect, onLiveState, type LiveState } from './live.js';
import { ErrorsPage } from './pages/errors.js';
import { JobPage } from './pages/job.js';
import { JobsPage } from './pages/jobs.js';
import { KeysPage } from './pages/keys.js';
import { NodePage } from './pages/node.js';
import { NodesPage } from './pages/nodes.js';
import { QueuePage } from './pages/queue.js';
import { SendPage } from './pages/send.js';

const PAGES = [
  ['nodes', 'Nodes'],
  ['send', 'Send'],
  ['jobs', 'Jobs'],
  ['queue', 'Queue'],
  ['errors', 'Errors'],
  ['keys', 'Keys'],
] as const;

function route(): string[] {
  const h = location.hash.replace(/^#\/?/, '');
  return h === '' ? ['nodes'] : h.split('/').map(decodeURIComponent);
}

function Page({ parts, info }: { parts: string[]; info: SessionInfo }) {
  const [page, id] = parts;
  switch (page) {
    case 'nodes':
      return id === undefined ? <NodesPage /> : <NodePage name={id} />;
    case 'send':
      return <SendPage />;
    case 'jobs':
      return id === undefined ? <JobsPage /> : <JobPage id={id} info={info} />;
    case 'queue':
      return <QueuePage />;
    case 'errors':
      return <ErrorsPage />;
    case 'keys':
      return <KeysPage />;
    default:
      return <p role="alert">No page {page}.</p>;
  }
}

function App({ info }: { info: SessionInfo }) {
  const [parts, setParts] = useState(route());
  const [live, setLive] = useState<LiveState>('connecting');
  useEffect(() => {
    const on = (): void => setParts(route());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  useEffect(() => onLiveState(setLive), []);
  useEffect(() => {
    const title = PAGES.find(([p]) => p === parts[0])?.[1] ?? 'steward';
    document.title = `${parts[1] ?? title} · steward ${info.node}`;
    document.getElementById('main')?.focus({ preventScroll: true });
  }, [parts.join('/')]);
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById('main')?.focus())}>
        Skip to the page
      </a>
      <header class="top">
        <span class="brand">
          steward <strong>{info.node}</strong>
        </span>
        <nav aria-label="Pages">
          {PAGES.map(([p, label]) => (
            <a href={`#/${p}`} aria-current={parts[0] === p ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <span class={`live live-${live}`} role="status" title="the live events from the daemon">
          {live === 'live' ? 'live' : live === 'connecting' ? 'connecting…' : 'reconnecting…'}
        </span>
        <form method="post" action="/logout" class="logout">
          <button type="submit">Log out</button>
        </form>
      </header>
      <main id="main" tabIndex={-1}>
        <Page parts={parts} info={info} key={parts.join('/')} />
      </main>
    </>
  );
}

session().then(
  (info) => {
    connect();
    // The cookie's own expiry moves on at each /api/session: a page left open keeps its session.
    setInterval(() => void session().catch(() => undefined), 3600_000);
    const root = document.getElementById('app') as HTMLElement;
    root.textContent = '';
    render(<App info={info} />, root);
  },
  (err: Error) => {
    const root = document.getElementById('app') as HTMLElement;
    root.textContent = `The console could not start: ${err.message}`;
  },
);
