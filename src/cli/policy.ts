import path from 'node:path';
import { decide, defaultRules, parsePolicy, PolicyError, TRUST_OFF_DECISION } from '../trust/policy.js';
import { CliError } from './client.js';
import fs from 'node:fs';
import { parse as parseToml } from 'smol-toml';

/**
 * `steward policy check --from ship1 --method REQCliCommand -- args...`: what this node's
 * policy.toml (in $CONFIG_FOLDER, as the daemon reads it) decides, and which rule decides it.
 * Exit code 0 when allowed, 1 when denied, 2 on a usage or policy error.
 */
export function policyCheck(args: string[], o: { from?: string; method?: string; relayTo?: string; via?: string; json: boolean }): number {
  if (o.from === undefined || o.method === undefined)
    throw new CliError('say who asks what: steward policy check --from ship1 --method REQCliCommand -- uptime', 2);
  const folder = process.env.CONFIG_FOLDER ?? './etc/';
  const file = path.join(folder, 'policy.toml');
  const { central, trustOff } = configOf(folder);
  let rules = defaultRules(central);
  let source = `the default rules (no ${file})`;
  if (trustOff) {
    // The daemon asks no policy then: say so rather than what the file would decide.
    source = `${path.join(folder, 'config.toml')} (Trust = "off")`;
  } else if (fs.existsSync(file)) {
    try {
      const parsed = parsePolicy(fs.readFileSync(file, 'utf8'), file);
      rules = parsed.defaults ? [...parsed.rules, ...rules] : parsed.rules;
      source = file;
    } catch (err) {
      if (err instanceof PolicyError) throw new CliError(err.message, 2);
      throw err;
    }
  }
  const d = trustOff
    ? TRUST_OFF_DECISION
    : decide(rules, {
        from: o.from,
        method: o.method,
        methodArgs: args,
        ...(o.relayTo === undefined ? {} : { relayTo: o.relayTo }),
        ...(o.via === undefined ? {} : { via: o.via }),
      });
  if (o.json) process.stdout.write(`${JSON.stringify({ ...d, source })}\n`);
  else
    process.stdout.write(
      `${d.allow ? 'allow' : 'deny'}: ${o.from} ${o.method} ${JSON.stringify(args)} (rule: ${d.rule}; from ${source})\n`,
    );
  return d.allow ? 0 : 1;
}

/** The central node named in config.toml (the default rules give it every method), and whether trust is off there. */
function configOf(folder: string): { central: string; trustOff: boolean } {
  try {
    const cfg = parseToml(fs.readFileSync(path.join(folder, 'config.toml'), 'utf8'));
    if (typeof cfg.CentralNodeName === 'string' && cfg.CentralNodeName !== '') {
      return { central: cfg.CentralNodeName, trustOff: typeof cfg.Trust === 'string' && cfg.Trust.toLowerCase() === 'off' };
    }
  } catch {
    // no config here
  }
  throw new CliError(`no config.toml with CentralNodeName in ${folder}: run this in the node's folder, or set CONFIG_FOLDER`, 2);
}
