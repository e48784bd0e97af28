import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import pino from 'pino';
import { newMessage, type Message } from '../../src/message/message.js';
import { ErrorReporter, isReportSummary, REPORT_BURST, SUMMARY_ARG } from '../../src/node/error-reporter.js';
import { originGuard } from '../../src/node/guards.js';
import { OriginLimits } from '../../src/node/origin-limits.js';

const errorLine = (about: string[] = []): Message =>
  newMessage({
    toNode: 'central',
    fromNode: 'ship1',
    method: 'REQErrorLog',
    methodArgs: about,
    data: ['error: x'],
    ackTimeoutMs: 5000,
    retries: 3,
  });

/**
 * A flood of error reports, on both ends: the sender holds back what is over its rate and sends a
 * count of it; the receiver refuses what is over its own, but never that count with the flood.
 */
describe('error reports under a flood', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 }));
  afterEach(() => mock.timers.reset());

  it('sends the burst allowance, then one summary line a second with the count held back, while the flood goes on', () => {
    const sent: Message[] = [];
    const reporter = new ErrorReporter({
      nodeName: 'ship1',
      centralNodeName: 'central',
      ackTimeoutMs: 5000,
      retries: 3,
      logger: pino({ level: 'silent' }),
      submit: async (m) => void sent.push(...m),
    });
    for (let i = 0; i < REPORT_BURST + 500; i++) reporter.report(`error: ${i}`);
    assert.equal(sent.length, REPORT_BURST);
    // The flood goes on at 1000 a second: the refill (100 a second) goes to reports, and the
    // summary still leaves each second with the count of the others.
    for (let i = 0; i < 3000; i++) {
      mock.timers.tick(1);
      reporter.report('error: more');
    }
    mock.timers.tick(1000);
    const summaries = sent.filter(isReportSummary);
    assert.ok(summaries.length >= 3, `a summary each second, got ${summaries.length}`);
    for (const s of summaries) assert.deepEqual(s.methodArgs, [SUMMARY_ARG]);
    const counted = summaries.reduce((n, s) => n + Number(/error: (\d+) more error reports were not sent/.exec(s.data[0] ?? '')?.[1]), 0);
    assert.equal(sent.length - summaries.length + counted, REPORT_BURST + 500 + 3000, 'every report was sent or counted');
  });

  it('takes a summary line from a node whose error lines are over the limit, and limits the summary lines apart', () => {
    const summed: string[] = [];
    const limits = new OriginLimits({
      errorLinesPerSecond: 100,
      summaryLinesPerWindow: 10,
      helloPerSecond: 2,
      newNamesPerMinute: 10,
      summarize: (t) => summed.push(t),
    });
    const guard = originGuard(limits, () => true);
    const refused = Array.from({ length: 300 }, () => guard(errorLine(), 'ship1')).filter((r) => r !== undefined);
    assert.equal(refused.length, 200);
    assert.match(refused[0] ?? '', /over the limit of error lines a second from ship1/);
    const summary = errorLine([SUMMARY_ARG]);
    assert.equal(guard(summary, 'ship1'), undefined, 'the count of what ship1 held back is taken');
    // An error line that only says it is a summary gets 10 at once, then one a second.
    const forged = Array.from({ length: 20 }, () => guard(summary, 'ship1')).filter((r) => r !== undefined);
    assert.equal(forged.length, 11);
    assert.match(forged[0] ?? '', /over the limit of summary lines from ship1/);
    mock.timers.tick(10_000);
    assert.deepEqual(summed.sort(), [
      'error: 11 summary lines from ship1 were refused in the last 10 s (over 10 summary lines in 10 s)',
      'error: 200 error lines from ship1 were refused in the last 10 s (over 100 error lines a second)',
    ]);
    limits.stop();
  });
});
