/**
 * Preloaded by `npm run bench -- --cpu-prof` into every Node process the run starts (through
 * NODE_OPTIONS=--import, as Node 20 refuses --cpu-prof there): samples the CPU from the start and
 * writes `CPU.<pid>.cpuprofile` into $STEWARD_BENCH_PROF_DIR when the process exits (steward and
 * node-sim exit through process.exit after a clean stop). Open it in Chrome DevTools or speedscope.
 */
import fs from 'node:fs';
import { Session } from 'node:inspector';
import path from 'node:path';

const dir = process.env.STEWARD_BENCH_PROF_DIR;
if (dir !== undefined && dir !== '') {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 500 });
  session.post('Profiler.start');
  process.on('exit', () => {
    // An in-thread session answers synchronously, so this completes inside the exit handler.
    session.post('Profiler.stop', (err, r) => {
      if (err === null) fs.writeFileSync(path.join(dir, `CPU.${process.pid}.cpuprofile`), JSON.stringify(r.profile));
    });
  });
}
