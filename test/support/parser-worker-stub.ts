// A stand-in for the parser thread's worker (parse-worker.ts), for tests of how partial answers
// are handed over: a parse job gets one partial batch (its first element, parsed by nothing: a
// fixed outcome), then either waits for the next job to finish (`"hold"` in the input) or ends
// the thread (`"die"` in the input).
import { parentPort } from 'node:worker_threads';

// Loaded by a worker thread as it is: Node strips the types (no tsx loader in that thread).
const port = parentPort as NonNullable<typeof parentPort>;
let held: number | undefined;
port.on('message', (job: { id: number; bytes: Uint8Array }) => {
  const text = Buffer.from(job.bytes).toString('utf8');
  const first = { index: 0, ok: false, error: 'stub outcome 0' };
  if (held !== undefined) {
    port.postMessage({ id: held, ok: true, outcomes: [{ index: 1, ok: false, error: 'stub outcome 1' }] });
    held = undefined;
  }
  if (text.includes('"hold"')) {
    port.postMessage({ id: job.id, ok: true, partial: [first] });
    held = job.id;
  } else if (text.includes('"die"')) {
    port.postMessage({ id: job.id, ok: true, partial: [first] });
    setImmediate(() => process.exit(3));
  } else {
    port.postMessage({ id: job.id, ok: true, outcomes: [{ index: 0, ok: false, error: 'stub whole answer' }] });
  }
});
port.postMessage('ready');
