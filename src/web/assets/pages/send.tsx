import { useState } from 'preact/hooks';
import { get, post } from '../api.js';
import type { NodesAnswer } from '../types.js';
import { Alert, Section, useData } from '../ui.js';

const METHODS = [
  'REQCliCommand',
  'REQCliCommandCont',
  'REQHttpGet',
  'REQTailFile',
  'REQCopyFileFrom',
  'REQCopyFileTo',
  'REQPing',
  'REQOpProcessList',
  'REQToConsole',
  'REQNone',
];
const REPLY_METHODS = ['REQToFileAppend', 'REQToFile', 'REQToConsole', 'REQNone'];

interface Form {
  names: string;
  where: string;
  method: string;
  args: string;
  ackTimeout: string;
  retries: string;
  methodTimeout: string;
  replyMethod: string;
  directory: string;
  fileName: string;
  batch: string;
  batchWait: string;
  maxFailures: string;
  every: string;
}

const INITIAL: Form = {
  names: '*',
  where: '',
  method: 'REQCliCommand',
  args: 'hostname',
  ackTimeout: '5',
  retries: '1',
  methodTimeout: '30',
  replyMethod: 'REQToFileAppend',
  directory: 'console',
  fileName: 'result.txt',
  batch: '',
  batchWait: '',
  maxFailures: '',
  every: '',
};

function list(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function labels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

const num = (s: string): number | string => (/^-?\d+$/.test(s.trim()) ? Number(s) : s.trim());

/** The message the form makes, as the daemon takes it (docs/fleet.md). */
export function messageOf(f: Form): Record<string, unknown> {
  const names = list(f.names);
  const where = labels(f.where);
  const rollout: Record<string, unknown> = {};
  if (f.batch.trim() !== '') rollout.batch = num(f.batch);
  if (f.batchWait.trim() !== '') rollout.batchWait = num(f.batchWait);
  if (f.maxFailures.trim() !== '') rollout.maxFailures = num(f.maxFailures);
  const args = f.args.split('\n').filter((a) => a.trim() !== '');
  return {
    ...(names.length === 1 && names[0] !== '*' && Object.keys(where).length === 0 ? { toNode: names[0] } : { toNodes: names }),
    ...(Object.keys(where).length > 0 ? { where } : {}),
    method: f.method,
    methodArgs: f.method === 'REQCliCommand' && args.length === 1 && /\s/.test(args[0] ?? '') ? ['bash', '-c', args[0]] : args,
    replyMethod: f.replyMethod,
    ACKTimeout: Number(f.ackTimeout) || 5,
    retries: Number(f.retries),
    methodTimeout: Number(f.methodTimeout) || 30,
    directory: f.directory,
    fileName: f.fileName,
    ...(Object.keys(rollout).length > 0 ? { rollout } : {}),
    ...(f.every.trim() !== '' ? { every: num(f.every) } : {}),
  };
}

/** Which known nodes a selector picks (as the daemon expands it: names or *, and every label). */
function matching(nodes: NodesAnswer['nodes'], f: Form): string[] {
  const names = list(f.names);
  const where = Object.entries(labels(f.where));
  const pool = names.includes('*') ? nodes.map((n) => n.node) : names;
  if (where.length === 0) return [...new Set(pool)];
  return pool.filter((p) => {
    const n = nodes.find((x) => x.node === p);
    return n !== undefined && where.every(([k, v]) => n.labels[k] === v);
  });
}

function Field({
  id,
  label,
  value,
  set,
  hint,
  type,
}: {
  id: string;
  label: string;
  value: string;
  set: (v: string) => void;
  hint?: string;
  type?: 'text' | 'number';
}) {
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <input
        id={id}
        type="text"
        inputMode={type === 'number' ? 'numeric' : 'text'}
        value={value}
        onInput={(e) => set((e.target as HTMLInputElement).value)}
        aria-describedby={hint ? `${id}-hint` : undefined}
      />
      {hint ? (
        <small id={`${id}-hint`} class="muted">
          {hint}
        </small>
      ) : null}
    </div>
  );
}

/** Send a message to nodes by name, `*` or labels: with a live count of the nodes it picks and a preview. */
export function SendPage() {
  const [f, setF] = useState<Form>(INITIAL);
  const [results, setResults] = useState<Record<string, unknown>[] | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const { data } = useData(() => get<NodesAnswer>('/api/nodes'), [], { pollMs: 5000 });
  const set = (k: keyof Form) => (v: string) => setF({ ...f, [k]: v });
  const picked = matching(data?.nodes ?? [], f);
  const message = messageOf(f);
  const send = async (e: Event): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const r = await post<{ results: Record<string, unknown>[] }>('/api/send', [message]);
      setResults(r.results);
      const job = r.results.find((x) => typeof x.job === 'string')?.job;
      if (typeof job === 'string') location.hash = `#/jobs/${job}`;
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <h1>Send</h1>
      <form class="send" onSubmit={(e) => void send(e)}>
        <fieldset>
          <legend>Targets</legend>
          <Field
            id="send-names"
            label="Nodes"
            value={f.names}
            set={set('names')}
            hint="names separated by commas, or * for every node known"
          />
          <Field id="send-where" label="Labels" value={f.where} set={set('where')} hint="key=value,key=value: every one must match" />
          <p class="match" aria-live="polite" id="send-count">
            {picked.length} node(s) match{picked.length > 0 ? `: ${picked.slice(0, 20).join(', ')}${picked.length > 20 ? ', …' : ''}` : ''}
          </p>
        </fieldset>
        <fieldset>
          <legend>Method</legend>
          <div class="field">
            <label for="send-method">Method</label>
            <select id="send-method" value={f.method} onChange={(e) => set('method')((e.target as HTMLSelectElement).value)}>
              {METHODS.map((m) => (
                <option value={m}>{m}</option>
              ))}
            </select>
          </div>
          <div class="field wide">
            <label for="send-args">Arguments</label>
            <textarea
              id="send-args"
              rows={3}
              value={f.args}
              onInput={(e) => set('args')((e.target as HTMLTextAreaElement).value)}
              aria-describedby="send-args-hint"
            />
            <small id="send-args-hint" class="muted">
              one per line; a single line with spaces runs as bash -c
            </small>
          </div>
        </fieldset>
        <fieldset>
          <legend>Timeouts and retries</legend>
          <Field id="send-ack" label="ACK timeout (s)" type="number" value={f.ackTimeout} set={set('ackTimeout')} />
          <Field id="send-retries" label="Retries" type="number" value={f.retries} set={set('retries')} hint="-1: until delivered" />
          <Field id="send-mt" label="Method timeout (s)" type="number" value={f.methodTimeout} set={set('methodTimeout')} />
        </fieldset>
        <fieldset>
          <legend>Reply</legend>
          <div class="field">
            <label for="send-reply">Reply method</label>
            <select id="send-reply" value={f.replyMethod} onChange={(e) => set('replyMethod')((e.target as HTMLSelectElement).value)}>
              {REPLY_METHODS.map((m) => (
                <option value={m}>{m}</option>
              ))}
            </select>
          </div>
          <Field id="send-dir" label="Directory" value={f.directory} set={set('directory')} />
          <Field id="send-file" label="File name" value={f.fileName} set={set('fileName')} />
        </fieldset>
        <fieldset>
          <legend>Rollout and schedule</legend>
          <Field id="send-batch" label="Batch" value={f.batch} set={set('batch')} hint="N or N% at a time" />
          <Field id="send-wait" label="Batch wait" value={f.batchWait} set={set('batchWait')} hint="90s, 5m" />
          <Field id="send-maxf" label="Max failures" value={f.maxFailures} set={set('maxFailures')} hint="N or N%" />
          <Field id="send-every" label="Every" value={f.every} set={set('every')} hint="a recurring job: 1h, 15m" />
        </fieldset>
        <Section title="Preview">
          <pre class="preview" aria-label="the message as JSON">
            {JSON.stringify(message, null, 2)}
          </pre>
        </Section>
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>
            {busy ? 'Sending…' : `Send to ${picked.length} node(s)`}
          </button>
        </div>
      </form>
      <Alert text={error} />
      {results === undefined ? null : (
        <ul class="results" aria-label="what the daemon answered">
          {results.map((r) => (
            <li>{r.status === 'accepted' ? `accepted: ${String(r.id)} for ${String(r.toNode)}` : `error: ${String(r.error)}`}</li>
          ))}
        </ul>
      )}
    </>
  );
}
