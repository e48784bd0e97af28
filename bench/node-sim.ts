/**
 * The node simulator for B4 (fan-out), run as its own process:
 * `node --import tsx bench/node-sim.ts --broker <url> --central <name> --root <dir> --prefix n --from 0 --count 250 [--hello 30] [-- <steward flags>]`.
 *
 * Runs `count` REAL steward nodes inside this one process: each is a StewardNode (the class
 * bin/steward runs, loaded from dist/ so it is the same build), with its own configuration
 * (resolved by loadConfig from flags, config.toml written in its folder), its own SQLite store
 * and data folder under `<root>/<name>/`, its own NATS connection and its own subscribers. Only
 * the inputs (unix socket, operator control) are left out: B4 sends to the nodes over NATS.
 *
 * Prints `ready {"nodes":N,"startMs":...}` on stdout once every node has subscribed and sent its
 * first hello, then runs until its stdin closes (so it never outlives the harness), stops every
 * node (store closed, connection drained) and prints `stopped`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { simNodeName } from './lib/sim.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Nodes started at once: a few dozen connections at a time, as a fleet coming up would. */
const START_BATCH = 25;

interface SimOptions {
  broker: string;
  central: string;
  root: string;
  prefix: string;
  from: number;
  count: number;
  helloSeconds: number;
  flags: string[];
}

function parseArgs(argv: readonly string[]): SimOptions {
  const o: SimOptions = { broker: '', central: 'central', root: '', prefix: 'n', from: 0, count: 0, helloSeconds: 30, flags: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') {
      o.flags = argv.slice(i + 1);
      break;
    }
    const v = argv[++i];
    if (v === undefined) throw new Error(`${a} needs a value`);
    if (a === '--broker') o.broker = v;
    else if (a === '--central') o.central = v;
    else if (a === '--root') o.root = v;
    else if (a === '--prefix') o.prefix = v;
    else if (a === '--from') o.from = Number(v);
    else if (a === '--count') o.count = Number(v);
    else if (a === '--hello') o.helloSeconds = Number(v);
    else throw new Error(`unknown argument ${a}`);
  }
  if (o.broker === '' || o.root === '' || !(o.count > 0))
    throw new Error(
      'usage: node-sim.ts --broker <url> --root <dir> --count <n> [--central c] [--prefix p] [--from i] [--hello s] [-- flags]',
    );
  return o;
}

/** The built modules, typed by their sources: the simulator runs exactly what bin/steward runs. */
async function loadBuild(): Promise<{
  StewardNode: typeof import('../src/node/node.js').StewardNode;
  loadConfig: typeof import('../src/config/load.js').loadConfig;
  parseFlags: typeof import('../src/config/flags.js').parseFlags;
  loadIdentity: typeof import('../src/trust/identity.js').loadIdentity;
}> {
  const dist = (p: string): string => pathToFileURL(path.join(ROOT, 'dist', p)).href;
  if (!fs.existsSync(path.join(ROOT, 'dist', 'node', 'node.js'))) throw new Error('dist/ is missing: run npm run build');
  const [node, load, flags, identity] = (await Promise.all([
    import(dist('node/node.js')),
    import(dist('config/load.js')),
    import(dist('config/flags.js')),
    import(dist('trust/identity.js')),
  ])) as [
    typeof import('../src/node/node.js'),
    typeof import('../src/config/load.js'),
    typeof import('../src/config/flags.js'),
    typeof import('../src/trust/identity.js'),
  ];
  return { StewardNode: node.StewardNode, loadConfig: load.loadConfig, parseFlags: flags.parseFlags, loadIdentity: identity.loadIdentity };
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const { StewardNode, loadConfig, parseFlags, loadIdentity } = await loadBuild();
  const logger = pino({ level: process.env.STEWARD_LOG_LEVEL ?? 'warn', base: { sim: process.pid } }, pino.destination(2));
  const nodes: InstanceType<typeof StewardNode>[] = [];
  let stopping = false;
  const stopAll = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await Promise.allSettled(nodes.map((n) => n.stop()));
    process.stdout.write('stopped\n');
    process.exit(0);
  };
  process.stdin.resume();
  process.stdin.on('end', () => void stopAll());
  process.on('SIGTERM', () => void stopAll());

  const t0 = performance.now();
  const names = Array.from({ length: o.count }, (_, k) => simNodeName(o.prefix, o.from + k));
  for (let b = 0; b < names.length && !stopping; b += START_BATCH) {
    await Promise.all(
      names.slice(b, b + START_BATCH).map(async (name) => {
        const dir = path.join(o.root, name);
        fs.mkdirSync(dir, { recursive: true });
        // The same flags bin/steward would get, folders absolute (the process has one cwd).
        const { values } = parseFlags([
          `-nodeName=${name}`,
          `-centralNodeName=${o.central}`,
          `-brokerAddress=${o.broker}`,
          '-natsConnectRetryInterval=1',
          `-startPubREQHello=${o.helloSeconds}`,
          `-socketFolder=${path.join(dir, 'tmp')}`,
          `-databaseFolder=${path.join(dir, 'var', 'lib')}`,
          `-subscribersDataFolder=${path.join(dir, 'data')}`,
          ...o.flags,
        ]);
        const cfg = loadConfig(path.join(dir, 'etc'), values);
        const node = new StewardNode({ cfg, logger: logger.child({ node: name }), identity: loadIdentity(cfg) });
        nodes.push(node);
        await node.start(); // resolves once subscribed and flushed, after the first hello
      }),
    );
  }
  const startMs = Math.round(performance.now() - t0);
  process.stdout.write(`ready ${JSON.stringify({ nodes: nodes.length, startMs })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`node-sim: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
