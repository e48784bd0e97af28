/**
 * Repro: a clean stop (SIGTERM) of a node while commands run on it reports commands that ran
 * to their end, and whose reply arrived, as "interrupted by a restart ... it is not run again".
 * Exits 1 while that happens. `npx tsx test/faults/repro/clean-stop-interrupted.ts`
 */
import path from 'node:path';
import { eventually, sleep } from '../../support/eventually.js';
import { countedCommands, lines } from '../../support/exactly-once.js';
import { startFleet } from '../../support/fleet.js';
import type { StewardProcess } from '../../support/steward.js';

const N = 200;
const fleet = await startFleet(['central', 'ship1'], { flags: ['-startPubREQHello=0'] });
const [central, ship1] = fleet.nodes as [StewardProcess, StewardProcess];
let code = 0;
try {
  const executions = path.join(ship1.dir, 'executions.log');
  const results = path.join(central.dataDir, 'results', 'ship1', 'out.txt');
  await central.send(JSON.stringify(countedCommands('ship1', N, executions, { ACKTimeout: 5, retries: -1, replyRetries: -1, methodTimeout: 60 })));
  await eventually(() => lines(executions).length >= 20, { intervalMs: 5, what: 'the first commands to run' });
  await ship1.stop(); // SIGTERM: a clean stop, exit code 0
  await ship1.start();
  const interruptedLines = (): string[] => central.readErrorLog().split('\n').filter((l) => l.includes('was interrupted'));
  await eventually(() => lines(results).length + interruptedLines().length >= N, { timeoutMs: 60_000, what: 'every command replied or reported' });
  await sleep(1000);
  const replied = new Set(lines(results));
  const interrupted = interruptedLines().map((l) => /echo (\d+) >>/.exec(l)?.[1]);
  const falseReports = interrupted.filter((n) => replied.has(`reply-${n}`));
  console.log(`${N} commands: ran ${lines(executions).length}, replies ${replied.size}, reported interrupted ${interrupted.length}, of which replied anyway ${falseReports.length}`);
  if (falseReports.length > 0) {
    console.log('BUG: commands that completed and replied are reported interrupted after a clean stop');
    code = 1;
  }
} finally {
  await fleet.close();
}
process.exit(code);
