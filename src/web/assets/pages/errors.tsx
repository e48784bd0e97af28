import { useEffect, useState } from 'preact/hooks';
import { get, q } from '../api.js';
import { onLive } from '../live.js';
import type { ErrorLine } from '../types.js';
import { Alert, markRendered } from '../ui.js';

const KEEP = 2000;

function keeps(l: ErrorLine, node: string, text: string): boolean {
  if (node !== '' && l.node !== node) return false;
  return text === '' || `${l.time} ${l.node} ${l.text}`.toLowerCase().includes(text.toLowerCase());
}

/** The error log of this node (central: every node's errors), live, filtered by node and text. */
export function ErrorsPage() {
  const [node, setNode] = useState('');
  const [text, setText] = useState('');
  const [lines, setLines] = useState<ErrorLine[]>([]);
  const [error, setError] = useState<string | undefined>(undefined);
  useEffect(() => {
    let alive = true;
    const load = (): void => {
      get<{ lines: ErrorLine[] }>(`/api/errors?node=${q(node)}&q=${q(text)}&limit=500`).then(
        (r) => {
          if (!alive) return;
          setLines(r.lines);
          markRendered();
        },
        (e: Error) => setError(e.message),
      );
    };
    const t = setTimeout(load, 150);
    const stop = onLive((events) => {
      const add: ErrorLine[] = [];
      for (const ev of events) {
        if (ev.event === 'ready') load();
        if (ev.event === 'errorlog') for (const l of ev.lines as ErrorLine[]) if (keeps(l, node, text)) add.push(l);
      }
      // A line read by a load that raced with its event is not shown twice.
      const seen = (old: ErrorLine[], l: ErrorLine): boolean =>
        old.slice(-200).some((o) => o.time === l.time && o.node === l.node && o.text === l.text);
      if (add.length > 0) setLines((old) => [...old, ...add.filter((l) => !seen(old, l))].slice(-KEEP));
    });
    return () => {
      alive = false;
      clearTimeout(t);
      stop();
    };
  }, [node, text]);
  const nodes = [...new Set(lines.map((l) => l.node).filter((n) => n !== ''))].sort();
  if (node !== '' && !nodes.includes(node)) nodes.push(node);
  return (
    <>
      <h1>Errors</h1>
      <div class="toolbar">
        <label for="err-node">Node</label>
        <select id="err-node" value={node} onChange={(e) => setNode((e.target as HTMLSelectElement).value)}>
          <option value="">every node</option>
          {nodes.map((n) => (
            <option value={n}>{n}</option>
          ))}
        </select>
        <label for="err-text">Text</label>
        <input
          id="err-text"
          type="search"
          value={text}
          placeholder="exit code, max retries…"
          onInput={(e) => setText((e.target as HTMLInputElement).value)}
        />
        <span class="muted" aria-live="polite">
          {lines.length} line(s), newest first
        </span>
      </div>
      <Alert text={error} />
      <ol class="errors" aria-label="error lines" reversed>
        {lines
          .slice()
          .reverse()
          .map((l) => (
            <li>
              <span class="muted">{l.time}</span> <a href={`#/nodes/${q(l.node)}`}>{l.node}</a> <span class="err-text">{l.text}</span>
            </li>
          ))}
      </ol>
    </>
  );
}
