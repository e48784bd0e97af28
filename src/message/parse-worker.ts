/**
 * The worker thread's side of `parse-thread.ts`: does the jobs it is handed, one at a time, and
 * posts the answers back. Nothing here runs in the main thread.
 */
import { parentPort } from 'node:worker_threads';
import { READY, answerJob, type ParseAnswer, type ParseJob } from './parse-thread.js';

const port = parentPort;
if (port !== null) {
  port.on('message', (job: ParseJob) => {
    try {
      port.postMessage(answerJob(job));
    } catch (err) {
      // The answer could not be copied to the main thread (an operator request nested too deep).
      port.postMessage({ id: job.id, ok: false, error: (err as Error).message } satisfies ParseAnswer);
    }
  });
  port.postMessage(READY);
}
