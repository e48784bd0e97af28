import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { onLive, type LiveEvent } from './live.js';

let rendered = false;
/** The first page with its data on screen: measured by the browser test (navigation start to this mark). */
export function markRendered(): void {
  if (rendered) return;
  rendered = true;
  performance.mark('steward-rendered');
}

/**
 * Data read from the daemon, read again every `pollMs` (0: never), when the live stream
 * reconnects, and when `refetchOn` says an event concerns it (at most once a second).
 */
export function useData<T>(
  load: () => Promise<T>,
  deps: unknown[],
  opts: { pollMs?: number; refetchOn?: (ev: LiveEvent) => boolean } = {},
): { data: T | undefined; error: string | undefined; reload: () => void } {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const gen = useRef(0);
  const reload = (): void => {
    const g = ++gen.current;
    load().then(
      (d) => {
        if (g !== gen.current) return;
        setData(d);
        setError(undefined);
        markRendered();
      },
      (e: Error) => g === gen.current && setError(e.message),
    );
  };
  useEffect(() => {
    reload();
    const timer = opts.pollMs ? setInterval(reload, opts.pollMs) : undefined;
    let pending: ReturnType<typeof setTimeout> | undefined;
    const stop = onLive((events) => {
      if (!events.some((e) => e.event === 'ready' || (opts.refetchOn?.(e) ?? false))) return;
      pending ??= setTimeout(() => {
        pending = undefined;
        reload();
      }, 1000);
    });
    return () => {
      if (timer) clearInterval(timer);
      if (pending) clearTimeout(pending);
      stop();
    };
  }, deps);
  return { data, error, reload };
}

export function Alert({ text }: { text: string | undefined }) {
  return text === undefined ? null : (
    <p class="alert" role="alert">
      {text}
    </p>
  );
}

export function State({ state }: { state: string }) {
  return <span class={`state state-${state}`}>{state.replace('-', ' ')}</span>;
}

export function Labels({ labels }: { labels: Record<string, string> }) {
  const entries = Object.entries(labels);
  if (entries.length === 0) return <span class="muted">none</span>;
  return (
    <span class="labels">
      {entries.map(([k, v]) => (
        <span class="chip">
          {k}={v}
        </span>
      ))}
    </span>
  );
}

export function Section({ title, children, actions }: { title: string; children: ComponentChildren; actions?: ComponentChildren }) {
  return (
    <section aria-label={title}>
      <div class="section-head">
        <h2>{title}</h2>
        {actions}
      </div>
      {children}
    </section>
  );
}

export function Counts({ counts }: { counts: Record<string, number> | undefined }) {
  const entries = Object.entries(counts ?? {});
  return (
    <span class="counts">
      {entries.map(([s, n]) => (
        <span class={`count state-${s}`}>
          {s.replace('-', ' ')} {n}
        </span>
      ))}
    </span>
  );
}

/** A button that runs an action, says it is busy, and shows what went wrong. */
export function ActionButton({
  label,
  run,
  confirm,
  kind,
  name,
}: {
  label: string;
  run: () => Promise<unknown>;
  confirm?: string;
  kind?: string;
  /** What the button does for a screen reader, when its label alone does not say it (Cancel of which message). */
  name?: string;
}) {
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<string | undefined>(undefined);
  return (
    <>
      <button
        type="button"
        class={kind}
        aria-label={name}
        disabled={busy}
        onClick={() => {
          if (confirm !== undefined && !window.confirm(confirm)) return;
          setBusy(true);
          setErr(undefined);
          run()
            .catch((e: Error) => setErr(e.message))
            .finally(() => setBusy(false));
        }}
      >
        {busy ? `${label}…` : label}
      </button>
      {err === undefined ? null : (
        <span class="alert" role="alert">
          {err}
        </span>
      )}
    </>
  );
}
