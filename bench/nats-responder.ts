/**
 * The responder for B0's raw NATS round trip, run as its own process:
 * `node --import tsx bench/nats-responder.ts <url> <subject>`. Echoes every request, prints
 * "ready" once subscribed, exits when its stdin closes (so it never outlives the harness).
 */
import { connect } from '@nats-io/transport-node';

const [url, subject] = process.argv.slice(2);
if (url === undefined || subject === undefined) {
  process.stderr.write('usage: nats-responder.ts <url> <subject>\n');
  process.exit(2);
}
const nc = await connect({ servers: url });
nc.subscribe(subject, {
  callback: (err, m) => {
    if (err === null) m.respond(m.data);
  },
});
await nc.flush();
process.stdout.write('ready\n');
process.stdin.resume();
process.stdin.on('end', () => void nc.close().finally(() => process.exit(0)));
