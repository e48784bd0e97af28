/**
 * The worker thread's side of `parse-thread.ts`: does the jobs it is handed, one at a time, and
 * posts the answers back (a parse job's outcomes in batches, as they are made). Nothing here runs
 * in the main thread.
 */
import { parentPort } from 'node:worker_threads';
import { READY, answerJob, type ParseAnswer, type ParseJob, type PartialAnswer } from './parse-thread.js';
import { prepareParser } from './parse.js';

const port = parentPort;
if (port !== null) {
  port.on('message', (job: ParseJob) => {
    try {
      port.postMessage(answerJob(job, (partial) => port.postMessage({ id: job.id, ok: true, partial } satisfies PartialAnswer)));
    } catch (err) {
      // The answer could not be copied to the main thread (an operator request nested too deep).
      port.postMessage({ id: job.id, ok: false, error: (err as Error).message } satisfies ParseAnswer);
    }
  });
  // The thread exists for large inputs: have the parser ready before the first one (it may have
  // been started while that input was still arriving).
  prepareParser();
  port.postMessage(READY);
}
