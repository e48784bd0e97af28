import fs from 'node:fs';
import { parse as parseToml } from 'smol-toml';

/**
 * Who may ask this node to do what: `$CONFIG_FOLDER/policy.toml`, checked on the receiving node
 * for every message that is not a reply to one of its own requests. Rules are tried in order;
 * the first that matches decides; nothing matching means deny. The default rules (see
 * defaultRules) come after the file's own, unless the file says `defaults = false`.
 *
 *     defaults = true                   # optional: false leaves only this file's rules
 *
 *     [[rule]]
 *     name = "ops may read uptime"      # shown in every decision it makes
 *     from = ["ship1", "ship2"]         # origin node names, or "*"
 *     methods = ["REQCliCommand"]       # method names, or "*"
 *     args = ["^uptime$", "^df( -h)?$"] # optional: regexes, one must match the methodArgs joined by spaces
 *     relayTo = ["ship3"]               # optional, REQRelay only: the nodes it may relay to ("*": any)
 *     via = ["central"]                 # optional: matches only messages relayed by these nodes
 *     action = "allow"                  # or "deny"
 */
export interface Rule {
  readonly name: string;
  readonly from: readonly string[];
  readonly methods: readonly string[];
  readonly args?: readonly RegExp[];
  readonly relayTo?: readonly string[];
  readonly via?: readonly string[];
  readonly action: 'allow' | 'deny';
}

/** What is asked: by whom (the proven origin), which method with which arguments, and for a relay, to where. */
export interface PolicyRequest {
  readonly from: string;
  readonly method: string;
  readonly methodArgs: readonly string[];
  readonly relayTo?: string;
  /** The relay node, for a relayed message (its origin is `from`). */
  readonly via?: string;
  /** Starting a method switched off on this node: only a rule that names the method and its arguments allows it. */
  readonly strict?: boolean;
}

export interface Decision {
  readonly allow: boolean;
  /** The rule that decided, or "default deny". */
  readonly rule: string;
}

const RELAY = 'REQRelay';

/** What every question gets with -trust=off: no policy is checked (README, docs/security.md). */
export const TRUST_OFF_DECISION: Decision = { allow: true, rule: '-trust=off: no policy is checked' };

/**
 * The rules in force without a policy.toml: central may invoke any method on any node (relays
 * excepted); every node may send its own hellos and error lines. Replies to this node's own
 * requests are matched to them before any policy, so they need no rule. Everything else is
 * denied: no node commands another, nothing is relayed.
 */
export function defaultRules(central: string): Rule[] {
  return [
    { name: 'default: no relaying without a rule', from: ['*'], methods: [RELAY], action: 'deny' },
    { name: `default: ${central} may invoke any method`, from: [central], methods: ['*'], action: 'allow' },
    {
      name: 'default: any node may say hello, report its errors and rotate its key',
      from: ['*'],
      methods: ['REQHello', 'REQErrorLog', 'REQKeyRotate'],
      action: 'allow',
    },
  ];
}

export class PolicyError extends Error {
  override readonly name = 'PolicyError';
}

/** Parses policy.toml text; throws PolicyError naming the rule and field that are wrong. */
export function parsePolicy(text: string, where = 'policy.toml'): { rules: Rule[]; defaults: boolean } {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text);
  } catch (err) {
    throw new PolicyError(`${where} is not valid TOML: ${(err as Error).message}`);
  }
  for (const key of Object.keys(doc)) {
    if (key !== 'rule' && key !== 'defaults')
      throw new PolicyError(`${where}: unknown key ${key} (rules are [[rule]] tables; defaults = true|false)`);
  }
  if (doc.defaults !== undefined && typeof doc.defaults !== 'boolean') throw new PolicyError(`${where}: defaults must be true or false`);
  const raw = doc.rule ?? [];
  if (!Array.isArray(raw)) throw new PolicyError(`${where}: rule must be a list of [[rule]] tables`);
  return { rules: raw.map((r: unknown, i) => parseRule(r, `${where}, rule ${i + 1}`)), defaults: doc.defaults !== false };
}

function parseRule(r: unknown, where: string): Rule {
  if (r === null || typeof r !== 'object' || Array.isArray(r)) throw new PolicyError(`${where} is not a table`);
  const o = r as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!['name', 'from', 'methods', 'args', 'relayTo', 'via', 'action'].includes(k)) throw new PolicyError(`${where}: unknown field ${k}`);
  }
  const list = (k: string, required: boolean): string[] | undefined => {
    const v = o[k];
    if (v === undefined) {
      if (required) throw new PolicyError(`${where}: ${k} is required (a list of names, or ["*"])`);
      return undefined;
    }
    if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'string' && x !== '')) {
      throw new PolicyError(`${where}: ${k} must be a non-empty list of strings`);
    }
    return v as string[];
  };
  const action = o.action;
  if (action !== 'allow' && action !== 'deny') throw new PolicyError(`${where}: action must be "allow" or "deny"`);
  const name = typeof o.name === 'string' && o.name !== '' ? o.name : where;
  const args = list('args', false)?.map((a) => {
    try {
      return new RegExp(a);
    } catch (err) {
      throw new PolicyError(`${where}: args pattern ${JSON.stringify(a)} is not a valid regular expression: ${(err as Error).message}`);
    }
  });
  const relayTo = list('relayTo', false);
  const via = list('via', false);
  return {
    name,
    from: list('from', true) as string[],
    methods: list('methods', true) as string[],
    ...(args ? { args } : {}),
    ...(relayTo ? { relayTo } : {}),
    ...(via ? { via } : {}),
    action,
  };
}

/** The decision of `rules` for a request: the first rule that matches, else deny. */
export function decide(rules: readonly Rule[], req: PolicyRequest): Decision {
  const joined = req.methodArgs.join(' ');
  for (const r of rules) {
    if (!r.from.includes('*') && !r.from.includes(req.from)) continue;
    const namesMethod = r.methods.includes(req.method);
    if (!namesMethod && (req.strict === true || !r.methods.includes('*'))) continue;
    if (req.strict === true && r.args === undefined) continue;
    if (r.args !== undefined && !r.args.some((re) => re.test(joined))) continue;
    // A rule with `via` holds only for messages relayed by those nodes.
    if (r.via !== undefined && (req.via === undefined || !r.via.includes(req.via))) continue;
    if (
      r.relayTo !== undefined &&
      req.method === RELAY &&
      !(r.relayTo.includes('*') || (req.relayTo !== undefined && r.relayTo.includes(req.relayTo)))
    )
      continue;
    return { allow: r.action === 'allow', rule: r.name };
  }
  return { allow: false, rule: 'default deny (no rule matched)' };
}

/** The policy of a node: its policy.toml when there is one, else the defaults; reloadable. */
export class Policy {
  private rules: Rule[];
  /** Where the rules came from, for logs and `steward policy check`. */
  source: string;

  constructor(
    private readonly file: string,
    private readonly central: string,
  ) {
    ({ rules: this.rules, source: this.source } = this.read());
  }

  /** Reads the file again; on an error the rules in force stay, and the error is thrown. */
  reload(): { rules: number; source: string } {
    const next = this.read();
    this.rules = next.rules;
    this.source = next.source;
    return { rules: next.rules.length, source: next.source };
  }

  decide(req: PolicyRequest): Decision {
    return decide(this.rules, req);
  }

  private read(): { rules: Rule[]; source: string } {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT')
        return { rules: defaultRules(this.central), source: 'the default rules (no policy.toml)' };
      throw new PolicyError(`cannot read ${this.file}: ${(err as Error).message}`);
    }
    const parsed = parsePolicy(text, this.file);
    return {
      rules: parsed.defaults ? [...parsed.rules, ...defaultRules(this.central)] : parsed.rules,
      source: parsed.defaults ? `${this.file} (then the default rules)` : this.file,
    };
  }
}
