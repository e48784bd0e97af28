/** The daemon's events (Server-Sent Events at /api/events), shared by every page. */

export type LiveEvent = { event: string; [k: string]: unknown };
type Listener = (events: LiveEvent[]) => void;

const listeners = new Set<Listener>();
const stateListeners = new Set<(s: LiveState) => void>();
export type LiveState = 'connecting' | 'live' | 'reconnecting';
let state: LiveState = 'connecting';
let source: EventSource | undefined;

function setState(s: LiveState): void {
  state = s;
  for (const l of stateListeners) l(s);
}

function emit(events: LiveEvent[]): void {
  for (const l of [...listeners]) l(events);
}

/**
 * Opens the stream once. The browser reconnects by itself (the daemon asks for 2 s); a stream
 * refused (the session is gone) is checked and opened again, or sends the page to the login.
 * Each (re)connection brings a `ready` event: the pages read their data again, as they may
 * have missed events meanwhile.
 */
export function connect(): void {
  if (source !== undefined) return;
  const es = new EventSource('/api/events');
  source = es;
  es.addEventListener('ready', () => {
    setState('live');
    emit([{ event: 'ready' }]);
  });
  es.onmessage = (m: MessageEvent<string>) => {
    try {
      emit(JSON.parse(m.data) as LiveEvent[]);
    } catch {
      // not ours
    }
  };
  es.onerror = () => {
    setState('reconnecting');
    if (es.readyState !== EventSource.CLOSED) return;
    source = undefined;
    setTimeout(() => {
      fetch('/api/session', { credentials: 'same-origin' })
        .then((r) => {
          if (r.status === 401) location.href = '/login';
          else connect();
        })
        .catch(() => connect());
    }, 2000);
  };
}

export function onLive(l: Listener): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

export function onLiveState(l: (s: LiveState) => void): () => void {
  stateListeners.add(l);
  l(state);
  return () => stateListeners.delete(l);
}
