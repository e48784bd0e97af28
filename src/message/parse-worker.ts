/**
 * The worker thread's side of `parse-thread.ts`: parses the inputs it is handed, one at a time,
 * and posts the outcomes back. Nothing here runs in the main thread.
 */
import { parentPort } from 'node:worker_threads';
import { isCompleteDocument, operatorRequest } from './document.js';
import { parseInput } from './parse.js';
import type { ParseJob, ParseAnswer } from './parse-thread.js';

function answer(job: ParseJob): ParseAnswer {
  switch (job.kind) {
    case 'parse':
      return { id: job.id, ok: true, outcomes: parseInput(job.bytes, job.ctx) };
    case 'complete':
      return { id: job.id, ok: true, complete: isCompleteDocument(Buffer.from(job.bytes.buffer, job.bytes.byteOffset, job.bytes.byteLength).toString('utf8')) };
    case 'operator':
      return { id: job.id, ok: true, request: operatorRequest(job.bytes) };
  }
}

const port = parentPort;
if (port !== null) {
  port.on('message', (job: ParseJob) => {
    try {
      port.postMessage(answer(job));
    } catch (err) {
      // Also when the answer cannot be copied to the main thread (an operator request nested too deep).
      port.postMessage({ id: job.id, ok: false, error: (err as Error).message } satisfies ParseAnswer);
    }
  });
}
