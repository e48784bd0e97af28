/**
 * What the inputs ask of the node's parser thread (parse-thread.ts): inputs of OFF_THREAD_BYTES or
 * more are parsed there, smaller ones on the event loop.
 */
import { isCompleteDocument, mayBeOperatorRequest, operatorRequest } from './document.js';
import { parseInput, type ParseContext, type ParseOutcome } from './parse.js';
import { ParseThread } from './parse-thread.js';

/**
 * Inputs from this size on are parsed on a worker thread. Parsing holds the thread that does it:
 * YAML goes at under 1 MB a second, and a JSON document of a few MB nested a million levels deep
 * takes a second or more. On the event loop that would stall every ACK, reply and other input of
 * the node meanwhile. Typical inputs (a few messages, under a few KB) stay on the event loop,
 * where they cost less than the hand-over would.
 */
export const OFF_THREAD_BYTES = 32 * 1024;

let thread: ParseThread | undefined;
const parseThread = (): ParseThread => (thread ??= new ParseThread());

/**
 * `parseInput` as batches of outcomes in input order, about `batch` each. A large input is
 * parsed on the parser thread, and each batch comes as soon as the thread has made it: the first
 * messages of a large input can be stored and sent while the rest is still being parsed. When
 * the thread fails, the last outcome is an error that says from which message on.
 */
export async function* parseInputBatches(bytes: Uint8Array, ctx: ParseContext, batch: number): AsyncGenerator<ParseOutcome[]> {
  if (bytes.byteLength < OFF_THREAD_BYTES) {
    yield parseInput(bytes, ctx);
    return;
  }
  const made: ParseOutcome[][] = [];
  let finished = false;
  let wake: (() => void) | undefined;
  const done = (): void => {
    finished = true;
    wake?.();
  };
  parseThread()
    .parseInBatches(bytes, ctx, batch, (outcomes) => {
      made.push(outcomes);
      wake?.();
    })
    .then(done, done);
  for (;;) {
    const next = made.shift();
    if (next !== undefined) yield next;
    else if (finished) return;
    else await new Promise<void>((r) => (wake = r));
  }
}

/**
 * An input still arriving has grown to `size` bytes with the last `added`: once it passes
 * OFF_THREAD_BYTES, the parser thread is started, to be ready when the rest has come (see
 * ParseThread.warm).
 */
export function inputGrew(size: number, added: number): void {
  if (size >= OFF_THREAD_BYTES && size - added < OFF_THREAD_BYTES) parseThread().warm();
}

/** `isCompleteDocument` on input bytes, on the parser thread for large inputs; false when it failed. */
export async function isCompleteInput(bytes: Uint8Array): Promise<boolean> {
  if (bytes.byteLength < OFF_THREAD_BYTES) {
    return isCompleteDocument(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  }
  const a = await parseThread().run({ kind: 'complete', bytes });
  return a.ok && 'complete' in a && a.complete;
}

/** `operatorRequest` (is the input an operator request?), on the parser thread for large inputs. */
export async function operatorRequestOf(bytes: Uint8Array): Promise<Record<string, unknown> | undefined> {
  if (bytes.byteLength < OFF_THREAD_BYTES || !mayBeOperatorRequest(bytes)) return operatorRequest(bytes);
  const a = await parseThread().run({ kind: 'operator', bytes });
  return a.ok && 'request' in a ? a.request : undefined;
}

/** Why the parser thread could not be started, once that happened (large inputs are then parsed on the event loop). */
export function parserThreadUnavailable(): string | undefined {
  return thread?.unavailable;
}
