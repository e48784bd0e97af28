import { pino } from 'pino';
import { helpText, parseFlags, UsageError } from '../config/flags.js';
import { loadConfig } from '../config/load.js';
import { loadToken, tokenMatches } from '../config/token.js';
import { tightenFolders } from '../config/folders.js';
import { optionalInputs, startAll } from '../inputs/inputs.js';
import { SocketInput } from '../inputs/socket.js';
import { StewardNode } from '../node/node.js';
import { loadIdentity } from '../trust/identity.js';
import type { NkeyPair } from '../trust/nkey.js';
import { PolicyError } from '../trust/policy.js';

const OPERATOR_COMMANDS = ['send', 'jobs', 'job', 'nodes', 'queue', 'status', 'cancel', 'keys', 'policy', 'broker-config', 'token', 'help'];

/** `steward [flags]`: runs the daemon until SIGINT or SIGTERM; `steward <command>`: an operator command. */
async function main(argv: string[]): Promise<number> {
  const first = argv[0];
  if (first !== undefined && OPERATOR_COMMANDS.includes(first)) {
    // Loaded only for operator commands: the daemon does not carry commander.
    const { runOperator } = await import('./operator.js');
    return runOperator(argv);
  }
  let parsed;
  try {
    parsed = parseFlags(argv);
  } catch (err) {
    return usage(err);
  }
  if (parsed.help) {
    process.stdout.write(helpText() + '\n');
    return 0;
  }
  const configFolder = process.env.CONFIG_FOLDER ?? './etc/';
  let cfg;
  let identity: NkeyPair | undefined;
  try {
    cfg = loadConfig(configFolder, parsed.values, (c) => void (identity = loadIdentity(c)));
  } catch (err) {
    return usage(err);
  }
  // Logs go to stderr, so stdout carries only what REQToConsole prints.
  const logger = pino({ level: process.env.STEWARD_LOG_LEVEL ?? 'info', base: { node: cfg.nodeName } }, pino.destination(2));
  process.on('uncaughtException', (err) => {
    logger.fatal({ err: err.stack }, 'uncaught exception, exiting');
    process.exit(70);
  });
  process.on('unhandledRejection', (err) => logger.error({ err: err instanceof Error ? err.stack : String(err) }, 'unhandled rejection'));

  // Loaded only when metrics are on: a node without them does not carry prom-client.
  const metrics =
    cfg.metricsAddress === undefined
      ? undefined
      : new (await import('../metrics/prometheus.js')).PrometheusMetrics(logger.child({ component: 'metrics' }));
  tightenFolders([cfg.configFolder, cfg.databaseFolder, cfg.dataFolder], (text) => logger.warn(text));
  let node: StewardNode;
  try {
    node = new StewardNode({ cfg, logger, metrics, identity: identity ?? loadIdentity(cfg) });
  } catch (err) {
    // A policy.toml that cannot be read or parsed: one line naming it, as for any bad setting.
    if (err instanceof PolicyError) return usage(new UsageError(err.message));
    throw err;
  }
  const socket = new SocketInput(cfg.socketPath, {
    accept: node.accept,
    control: (req, ch) => node.control.handle(req, ch),
    logger: logger.child({ component: 'socket' }),
  });
  if (cfg.inputAuth === 'none' && (cfg.tcpAddress !== undefined || cfg.httpAddress !== undefined)) {
    logger.warn('-inputAuth=none: the TCP and HTTP inputs take messages from anyone who can reach them, without the operator token');
  }
  const token = loadToken(cfg.configFolder);
  const inputs = optionalInputs(cfg, node.accept, logger, token);
  // Loaded only when asked for: a node without -profilingPort does not carry the inspector.
  const profiling =
    cfg.profilingAddress === undefined
      ? undefined
      : new (await import('../metrics/profiling.js')).ProfilingServer(cfg.profilingAddress, {
          token: (given) => tokenMatches(token, given),
          nodeName: cfg.nodeName,
          logger: logger.child({ component: 'profiling' }),
        });
  // Loaded only when asked for: a node without the console does not carry it.
  if (cfg.webAddress !== undefined || cfg.dataFolderAddress !== undefined) {
    try {
      inputs.push(...(await import('../web/console.js')).webInputs(node, cfg, token, logger));
    } catch (err) {
      logger.fatal((err as Error).message);
      await node.stop();
      return 1;
    }
  }
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    setTimeout(() => {
      logger.error('stop took more than 10 s, exiting');
      process.exit(1);
    }, 10_000).unref();
    // Watchers are told first, then nothing new comes in, then the node stops: each step runs
    // even when the one before failed (it is logged).
    const steps: [string, () => unknown][] = [
      ['operator watchers', () => node.control.stop(`${cfg.nodeName} is stopping`)],
      ['the profiling listener', () => profiling?.stop()],
      ['the inputs', () => Promise.all([socket.stop(), ...inputs.map((i) => i.stop())])],
      ['the node', () => node.stop()],
      ['the metrics', () => metrics?.stop()],
    ];
    void (async () => {
      let failed = false;
      for (const [what, step] of steps) {
        try {
          await step();
        } catch (err) {
          failed = true;
          logger.error({ err: (err as Error).message }, `stopping ${what} failed`);
        }
      }
      logger.info('stopped');
      process.exit(failed ? 1 : 0);
    })();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGHUP', () => node.reloadPolicy());
  try {
    await socket.start();
    await startAll(inputs);
    if (metrics !== undefined && cfg.metricsAddress !== undefined) await metrics.listen(cfg.metricsAddress);
    await profiling?.start();
  } catch (err) {
    logger.fatal((err as Error).message);
    await socket.stop();
    await metrics?.stop();
    await profiling?.stop();
    await node.stop();
    return 1;
  }
  logger.info({ node: cfg.nodeName, central: cfg.centralNodeName, broker: cfg.brokerServers }, 'steward started');
  await node.start();
  return -1; // keep running
}

function usage(err: unknown): number {
  if (err instanceof UsageError) {
    process.stderr.write(`steward: ${err.message}\n`);
    return 2;
  }
  throw err;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`steward: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
