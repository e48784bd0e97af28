import fs from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { tokenFile } from '../config/token.js';
import { cancel } from './cancel.js';
import { CliError } from './client.js';
import { job, jobs } from './jobs.js';
import { nodes } from './nodes.js';
import { queue } from './queue.js';
import { send } from './send.js';
import { status } from './status.js';
import { brokerConfig } from './broker-config.js';
import { keys } from './keys.js';
import { policyCheck } from './policy.js';

/** Runs an operator command (`steward send ...`); resolves with the exit code. */
export async function runOperator(argv: string[]): Promise<number> {
  let code = 0;
  const program = new Command('steward')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .description('operator commands; without a command, steward runs the daemon (see steward --help)');
  const socket = new Option(
    '--socket <path>',
    'the daemon socket (default: SocketFolder of $CONFIG_FOLDER/config.toml, else ./tmp/steward.sock)',
  );
  program
    .command('send')
    .description("send a command to nodes and wait for their output, e.g. steward send --to ship1,ship2 -- bash -c 'uptime'")
    .argument('[command...]', 'the command and its arguments (after --)')
    .option('--to <nodes>', "comma-separated target nodes, or '*' for every node this node knows")
    .option('--where <key=value>', 'only nodes with this label (repeatable: all must match)', collect, [])
    .option('--batch <n>', 'a rollout: send to N nodes (or N%) at a time, the next batch when these answered')
    .option('--batch-wait <duration>', 'wait between batches (90s, 5m)')
    .option('--max-failures <n>', 'stop the rollout when more than N (or N%) nodes failed; 0: at the first failure')
    .option('--every <duration>', 'a recurring job: run again at this interval (15m, 1h, 1d), until cancelled')
    .option('--method <method>', 'the method', 'REQCliCommand')
    .option('--timeout <seconds>', 'methodTimeout: how long the command may run')
    .option('--retries <n>', 're-sends after the first attempt (-1: until delivered)')
    .option('--ack-timeout <seconds>', 'ACKTimeout: how long one delivery attempt waits')
    .option('--directory <dir>', 'where the replies are also written in the data folder', 'send')
    .option('--file-name <name>', 'result file name (default <method>.log)')
    .option('--reply-method <method>', 'replyMethod (default REQToFileAppend)')
    .option('--file <path>', 'send the messages in this JSON or YAML file instead')
    .option('--no-wait', 'print the ids (and job) and return without waiting for replies')
    .option('--json', 'one JSON object per reply', false)
    .addOption(socket)
    .action(async (args: string[], o: Parameters<typeof send>[1]) => void (code = await send(args, o)));
  program
    .command('jobs')
    .description('recent jobs (sends to many nodes) with their counts per state, and the recurring jobs')
    .option('--limit <n>', 'how many jobs', '20')
    .option('--json', 'one JSON object per job', false)
    .addOption(socket)
    .action(async (o: Parameters<typeof jobs>[0]) => void (code = await jobs(o)));
  program
    .command('job')
    .description('one job, a row per node (--wait: follow it live); steward job cancel|pause|resume <id>')
    .argument('<id|action>', 'a job id, or cancel, pause, resume')
    .argument('[id]', 'the job (or recurring job) for cancel, pause, resume')
    .option('--wait', 'follow the job until it ends', false)
    .option('--json', 'as JSON', false)
    .addOption(socket)
    .action(async (first: string, second: string | undefined, o: Parameters<typeof job>[2]) => void (code = await job(first, second, o)));
  program
    .command('nodes')
    .description('nodes this node (normally central) has heard from, with last seen time, state and labels')
    .option('--where <key=value>', 'only nodes with this label (repeatable)', collect, [])
    .option('--sort <key>', 'name, seen or state', 'name')
    .option('--json', 'one JSON object per node', false)
    .addOption(socket)
    .action(async (o: Parameters<typeof nodes>[0]) => void (code = await nodes(o)));
  program
    .command('queue')
    .description('pending messages per destination, with attempts and next try')
    .option('--all', 'list every message being delivered, not the first 20 per node', false)
    .option('--json', 'one JSON object per destination', false)
    .addOption(socket)
    .action(async (o: Parameters<typeof queue>[0]) => void (code = await queue(o)));
  program
    .command('status')
    .description("one message's history on this node: accepted, attempts, delivered, reply")
    .argument('<id>', 'message id')
    .option('--json', 'as JSON', false)
    .addOption(socket)
    .action(async (id: string, o: Parameters<typeof status>[1]) => void (code = await status(id, o)));
  program
    .command('cancel')
    .description('drop pending messages (reported like a failure)')
    .argument('[ids...]', 'message ids')
    .option('--to <node>', 'every pending message to this node')
    .option('--json', 'one JSON object per message', false)
    .addOption(socket)
    .action(async (ids: string[], o: Parameters<typeof cancel>[1]) => void (code = await cancel(ids, o)));
  program
    .command('keys')
    .description('node keys this node knows (state, fingerprint, first and last seen), and changes to them')
    .argument('[action]', 'list (default), accept <node>..., revoke <node>..., import <folder>, rotate')
    .argument('[args...]', 'node names, or the key folder for import')
    .option('--to <nodes>', 'rotate: the nodes to tell (default: central; on central, every node with a pinned key)')
    .option('--json', 'as JSON', false)
    .addOption(socket)
    .action(async (action: string | undefined, args: string[], o: Parameters<typeof keys>[2]) => void (code = await keys(action, args, o)));
  program
    .command('policy')
    .description("what this node's policy.toml decides: steward policy check --from ship1 --method REQCliCommand -- uptime")
    .argument('<check>', 'check')
    .argument('[args...]', 'the methodArgs (after --)')
    .requiredOption('--from <node>', 'the node that asks (the origin)')
    .requiredOption('--method <method>', 'the method asked for')
    .option('--relay-to <node>', 'for REQRelay: the node it would be relayed to')
    .option('--via <node>', 'the relay node, for a relayed message')
    .option('--json', 'as JSON', false)
    .action((check: string, args: string[], o: Parameters<typeof policyCheck>[1]) => {
      if (check !== 'check') throw new CliError('usage: steward policy check --from <node> --method <method> -- args...', 2);
      code = policyCheck(args, o);
    });
  program
    .command('token')
    .description('prints the operator token the TCP and HTTP inputs and the web console ask for (made at the first start, etc/token)')
    .action(() => {
      const file = tokenFile(process.env.CONFIG_FOLDER ?? './etc/');
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new CliError(
          code === 'ENOENT'
            ? `no token in ${file}: start the daemon in this folder once`
            : code === 'EACCES'
              ? `not allowed to read ${file}: run as the user of the daemon`
              : (err as Error).message,
        );
      }
      process.stdout.write(`${text.trim()}\n`);
    });
  program
    .command('broker-config')
    .description('a least-privilege nats-server config for the fleet, from its public keys')
    .argument('<nodes...>', 'the nodes other than central')
    .requiredOption('--central <node>', 'the central node')
    .requiredOption('--keys <folder>', 'folder with <node>.pub or <node>.nk for each node (scripts/gen-nkey.mjs writes both)')
    .option('--relay', 'central relays messages between nodes (REQRelay)', false)
    .option('--listen <host:port>', 'the listen line', '0.0.0.0:4222')
    .action((nodes: string[], o: Parameters<typeof brokerConfig>[1]) => {
      process.stdout.write(brokerConfig(nodes, o));
    });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof CliError) {
      process.stderr.write(`steward: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}

/** A repeatable option's values. */
function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
