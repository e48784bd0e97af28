import { didYouMean } from '../lib/closest.js';
import { FIELDS, fieldByFlag, type FieldSpec, type RawConfig } from './schema.js';

/** A usage error: the message says what was wrong and what to do. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface ParsedFlags {
  values: RawConfig;
  help: boolean;
}

/**
 * Parses Go-style flags: `-name=value`, `--name=value`, `-name value`, `--name value`;
 * booleans as `-flag` (true) or `-flag=false`, as Go's flag package does.
 */
export function parseFlags(argv: readonly string[]): ParsedFlags {
  const values: RawConfig = {};
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('-') || arg === '-' || arg === '--') {
      throw new UsageError(`unexpected argument "${arg}": flags look like -name=value (see --help)`);
    }
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq === -1 ? body : body.slice(0, eq);
    if (name === 'help' || name === 'h') {
      help = true;
      continue;
    }
    const field = fieldByFlag(name) ?? FIELDS.find((f) => f.flag.toLowerCase() === name.toLowerCase());
    if (field === undefined) {
      throw new UsageError(
        `unknown flag -${name}${didYouMean(
          name,
          FIELDS.map((f) => f.flag),
        )}; run steward --help for every flag`,
      );
    }
    let raw: string;
    if (eq !== -1) raw = body.slice(eq + 1);
    else if (field.type === 'bool') raw = 'true';
    else {
      const next = argv[i + 1];
      if (next === undefined) throw new UsageError(`flag -${field.flag} needs a value`);
      raw = next;
      i++;
    }
    values[field.flag] = convert(field, raw, `flag -${field.flag}`);
  }
  return { values, help };
}

/** Converts a textual value for `field`, with an error naming `where`. */
export function convert(field: FieldSpec, raw: string, where: string): string | number | boolean {
  switch (field.type) {
    case 'string':
      return raw;
    case 'int': {
      if (!/^-?\d+$/.test(raw.trim())) throw new UsageError(`${where}: "${raw}" is not a whole number`);
      return Number.parseInt(raw, 10);
    }
    case 'bool': {
      const v = raw.toLowerCase();
      if (['true', '1', 't', 'yes'].includes(v)) return true;
      if (['false', '0', 'f', 'no'].includes(v)) return false;
      throw new UsageError(`${where}: "${raw}" is not true or false`);
    }
  }
}

/** The text of `steward --help`: every flag with its type and default. */
export function helpText(): string {
  const lines = [
    'Usage: env CONFIG_FOLDER=./etc/ steward -nodeName=<name> -centralNodeName=<name> [flags]',
    '',
    'Flags can be written -name=value, --name=value, -name value or --name value; booleans as -flag or -flag=false.',
    'Values: defaults < $CONFIG_FOLDER/config.toml < flags. The merged result is written back to config.toml.',
    '',
  ];
  for (const f of FIELDS) {
    const type = f.type === 'bool' ? '' : f.type === 'int' ? ' int' : ' string';
    const def = f.type === 'string' ? JSON.stringify(f.default) : String(f.default);
    lines.push(`  -${f.flag}${type}`, `        ${f.help} (default ${def})`);
  }
  lines.push(
    '',
    'Operator commands (talk to the daemon in this folder through its socket; steward help <command> for each one):',
    '  steward send --to ship1,ship2 [--timeout 10] [--retries 3] -- bash -c uptime   send a command, wait for the outputs',
    "  steward send --to '*' --where role=ship [--batch 10%] [--max-failures 0] [--every 1h] -- df -h   a job (rollout, recurring)",
    '  steward jobs                        recent jobs with their counts, and the recurring ones',
    '  steward job <id> [--wait]           one job, a row per node; --wait follows it live',
    '  steward job cancel|pause|resume <id>',
    '  steward nodes [--where role=ship]   nodes heard from, with labels, online or offline',
    '  steward queue                       pending messages per destination',
    '  steward status <id>                 one message: accepted, attempts, delivered, reply',
    '  steward cancel <id>... | --to <node>  drop pending messages',
    '  steward keys [list|accept|revoke|import|rotate]   node keys (trust)',
    '  steward policy check --from <node> --method <m> -- args   what policy.toml decides',
    '  steward token                       the operator token of the TCP and HTTP inputs and the web console',
    '  steward broker-config ...           a least-privilege nats-server config for the fleet',
    '  steward help [command]              these commands, or one in full',
    'Messages can also be written as JSON or YAML to <socketFolder>/steward.sock, e.g. nc -NU ./tmp/steward.sock < msg.json',
  );
  return lines.join('\n');
}
