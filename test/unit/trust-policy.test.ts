import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { decide, defaultRules, parsePolicy, Policy, PolicyError, type PolicyRequest, type Rule } from '../../src/trust/policy.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'steward-policy-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const ask = (from: string, method: string, methodArgs: string[] = [], extra: Partial<PolicyRequest> = {}): PolicyRequest => ({
  from,
  method,
  methodArgs,
  ...extra,
});
const rules = (toml: string): Rule[] => parsePolicy(toml).rules;
const DENY = { allow: false, rule: 'default deny (no rule matched)' };

/** The PolicyError message parsePolicy throws for `toml`. */
function problem(toml: string, where?: string): string {
  try {
    parsePolicy(toml, where);
  } catch (err) {
    assert.ok(err instanceof PolicyError, `expected a PolicyError, got ${String(err)}`);
    return err.message;
  }
  return assert.fail('expected the policy to be refused');
}

const rule = (fields: string): string => `[[rule]]\nname = "ok"\nfrom = ["*"]\nmethods = ["*"]\naction = "allow"\n\n[[rule]]\n${fields}\n`;

describe('parsePolicy', () => {
  it('reads rules in order with their names, and defaults on unless the file says otherwise', () => {
    const parsed = parsePolicy(
      '[[rule]]\nname = "ops may read uptime"\nfrom = ["ship1"]\nmethods = ["REQCliCommand"]\nargs = ["^uptime$"]\naction = "allow"\n',
    );
    assert.equal(parsed.defaults, true);
    assert.equal(parsed.rules.length, 1);
    assert.equal(parsed.rules[0]?.name, 'ops may read uptime');
    assert.deepEqual(parsed.rules[0]?.from, ['ship1']);
    assert.equal(parsePolicy('defaults = false').defaults, false);
    assert.deepEqual(parsePolicy(''), { rules: [], defaults: true });
  });

  it('names a rule without a name by its place in the file', () => {
    assert.equal(parsePolicy(rule('from = ["a"]\nmethods = ["*"]\naction = "deny"'), 'p.toml').rules[1]?.name, 'p.toml, rule 2');
  });

  it('refuses an unknown top-level key', () => {
    assert.equal(problem('allow_all = true'), 'policy.toml: unknown key allow_all (rules are [[rule]] tables; defaults = true|false)');
  });

  it('refuses defaults that is not a boolean', () => {
    assert.equal(problem('defaults = "no"'), 'policy.toml: defaults must be true or false');
  });

  it('refuses text that is not TOML, and a rule that is not a table list', () => {
    assert.match(problem('[[rule]\n', '/etc/steward/policy.toml'), /^\/etc\/steward\/policy\.toml is not valid TOML: /);
    assert.equal(problem('rule = 3'), 'policy.toml: rule must be a list of [[rule]] tables');
  });

  it('names the rule and the field that is unknown', () => {
    assert.equal(problem(rule('form = ["a"]\nmethods = ["*"]\naction = "allow"')), 'policy.toml, rule 2: unknown field form');
  });

  it('names the rule whose from is empty or missing', () => {
    assert.equal(
      problem(rule('from = []\nmethods = ["*"]\naction = "allow"')),
      'policy.toml, rule 2: from must be a non-empty list of strings',
    );
    assert.equal(
      problem(rule('from = [""]\nmethods = ["*"]\naction = "allow"')),
      'policy.toml, rule 2: from must be a non-empty list of strings',
    );
    assert.equal(problem(rule('methods = ["*"]\naction = "allow"')), 'policy.toml, rule 2: from is required (a list of names, or ["*"])');
    assert.equal(problem(rule('from = ["a"]\naction = "allow"')), 'policy.toml, rule 2: methods is required (a list of names, or ["*"])');
  });

  it('names the rule whose args pattern is not a regular expression', () => {
    assert.match(
      problem(rule('from = ["a"]\nmethods = ["*"]\nargs = ["^ok$", "(unclosed"]\naction = "allow"')),
      /^policy\.toml, rule 2: args pattern "\(unclosed" is not a valid regular expression: /,
    );
  });

  it('names the rule whose action is neither allow nor deny', () => {
    for (const action of ['"permit"', '""', 'true']) {
      assert.equal(
        problem(rule(`from = ["a"]\nmethods = ["*"]\naction = ${action}`)),
        'policy.toml, rule 2: action must be "allow" or "deny"',
      );
    }
    assert.equal(problem(rule('from = ["a"]\nmethods = ["*"]')), 'policy.toml, rule 2: action must be "allow" or "deny"');
  });
});

describe('decide', () => {
  it('lets the first matching rule decide, and denies what no rule matches', () => {
    const r = rules(
      '[[rule]]\nname = "no shell for ship1"\nfrom = ["ship1"]\nmethods = ["REQCliCommand"]\naction = "deny"\n' +
        '[[rule]]\nname = "ships may run commands"\nfrom = ["ship1", "ship2"]\nmethods = ["REQCliCommand"]\naction = "allow"\n',
    );
    assert.deepEqual(decide(r, ask('ship1', 'REQCliCommand', ['uptime'])), { allow: false, rule: 'no shell for ship1' });
    assert.deepEqual(decide(r, ask('ship2', 'REQCliCommand', ['uptime'])), { allow: true, rule: 'ships may run commands' });
    assert.deepEqual(decide(r, ask('ship3', 'REQCliCommand', ['uptime'])), DENY);
    assert.deepEqual(decide(r, ask('ship2', 'REQOpProcessStart')), DENY);
    assert.deepEqual(decide([], ask('central', 'REQHello')), DENY);
  });

  it('matches any origin and any method with "*"', () => {
    const r = rules('[[rule]]\nname = "any"\nfrom = ["*"]\nmethods = ["*"]\naction = "allow"\n');
    assert.deepEqual(decide(r, ask('whoever', 'REQAnything')), { allow: true, rule: 'any' });
  });

  it('allows only the arguments one args pattern matches, joined by spaces', () => {
    const r = rules(
      '[[rule]]\nname = "df"\nfrom = ["ops"]\nmethods = ["REQCliCommand"]\nargs = ["^uptime$", "^df( -h)?$"]\naction = "allow"\n',
    );
    assert.equal(decide(r, ask('ops', 'REQCliCommand', ['df', '-h'])).allow, true);
    assert.equal(decide(r, ask('ops', 'REQCliCommand', ['uptime'])).allow, true);
    assert.deepEqual(decide(r, ask('ops', 'REQCliCommand', ['df', '-h;', 'rm', '-rf', '/'])), DENY);
    assert.deepEqual(decide(r, ask('ops', 'REQCliCommand', ['uptime', '&&', 'reboot'])), DENY);
    assert.deepEqual(decide(r, ask('ops', 'REQCliCommand', [])), DENY);
  });

  it('allows a relay only to the nodes relayTo names', () => {
    const r = rules(
      '[[rule]]\nname = "to ship3"\nfrom = ["ops"]\nmethods = ["REQRelay"]\nrelayTo = ["ship3"]\naction = "allow"\n' +
        '[[rule]]\nname = "anywhere"\nfrom = ["central"]\nmethods = ["REQRelay"]\nrelayTo = ["*"]\naction = "allow"\n',
    );
    const relay = (from: string, to: string): PolicyRequest => ask(from, 'REQRelay', ['REQCliCommand', 'uptime'], { relayTo: to });
    assert.deepEqual(decide(r, relay('ops', 'ship3')), { allow: true, rule: 'to ship3' });
    assert.deepEqual(decide(r, relay('ops', 'ship4')), DENY);
    assert.deepEqual(decide(r, ask('ops', 'REQRelay', ['REQCliCommand'])), DENY);
    assert.deepEqual(decide(r, relay('central', 'ship9')), { allow: true, rule: 'anywhere' });
  });

  it('lets a rule with args also judge the relayed method and its arguments', () => {
    const r = rules(
      '[[rule]]\nname = "relay uptime"\nfrom = ["ops"]\nmethods = ["REQRelay"]\nargs = ["^REQCliCommand uptime$"]\naction = "allow"\n',
    );
    assert.equal(decide(r, ask('ops', 'REQRelay', ['REQCliCommand', 'uptime'], { relayTo: 'ship3' })).allow, true);
    assert.deepEqual(decide(r, ask('ops', 'REQRelay', ['REQCliCommand', 'reboot'], { relayTo: 'ship3' })), DENY);
  });

  it('keeps the via of a rule read from policy.toml', () => {
    const r = rules('[[rule]]\nname = "via central"\nfrom = ["ops"]\nmethods = ["REQCliCommand"]\nvia = ["central"]\naction = "allow"\n');
    assert.deepEqual(r[0]?.via, ['central']);
  });

  it('matches a rule with via only for messages relayed by the nodes it names', () => {
    const r: Rule[] = [{ name: 'ops through central', from: ['ops'], methods: ['REQCliCommand'], via: ['central'], action: 'allow' }];
    assert.deepEqual(decide(r, ask('ops', 'REQCliCommand', ['uptime'], { via: 'central' })), {
      allow: true,
      rule: 'ops through central',
    });
    assert.deepEqual(decide(r, ask('ops', 'REQCliCommand', ['uptime'], { via: 'relay2' })), DENY);
    assert.deepEqual(decide(r, ask('ops', 'REQCliCommand', ['uptime'])), DENY);
  });

  it('in strict mode, lets only a rule that names the method and has args decide', () => {
    const r = rules(
      '[[rule]]\nname = "anything"\nfrom = ["central"]\nmethods = ["*"]\naction = "allow"\n' +
        '[[rule]]\nname = "start without args"\nfrom = ["central"]\nmethods = ["REQOpProcessStart"]\naction = "allow"\n' +
        '[[rule]]\nname = "start the web server"\nfrom = ["central"]\nmethods = ["REQOpProcessStart"]\nargs = ["^REQHttpGet$"]\naction = "allow"\n',
    );
    const start = (arg: string, strict: boolean): PolicyRequest => ask('central', 'REQOpProcessStart', [arg], strict ? { strict } : {});
    assert.deepEqual(decide(r, start('REQCliCommand', false)), { allow: true, rule: 'anything' });
    assert.deepEqual(decide(r, start('REQHttpGet', true)), { allow: true, rule: 'start the web server' });
    assert.deepEqual(decide(r, start('REQCliCommand', true)), DENY);
  });

  it('by default lets central invoke anything but a relay, and any node say hello, report errors and rotate its key', () => {
    const r = defaultRules('central');
    assert.deepEqual(decide(r, ask('central', 'REQCliCommand', ['reboot'])), {
      allow: true,
      rule: 'default: central may invoke any method',
    });
    assert.deepEqual(decide(r, ask('central', 'REQRelay', ['REQCliCommand'], { relayTo: 'ship1' })), {
      allow: false,
      rule: 'default: no relaying without a rule',
    });
    for (const method of ['REQHello', 'REQErrorLog', 'REQKeyRotate']) {
      assert.equal(decide(r, ask('ship7', method)).allow, true, method);
    }
    assert.deepEqual(decide(r, ask('ship7', 'REQCliCommand', ['uptime'])), DENY);
    assert.deepEqual(decide(r, ask('ship7', 'REQOpProcessStart', ['REQCliCommand'])), DENY);
  });
});

describe('Policy over a file', () => {
  const file = (name: string, text: string): string => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, text);
    return f;
  };
  const ship1Uptime =
    '[[rule]]\nname = "ship1 uptime"\nfrom = ["ship1"]\nmethods = ["REQCliCommand"]\nargs = ["^uptime$"]\naction = "allow"\n';

  it('uses the default rules when there is no policy.toml', () => {
    const p = new Policy(path.join(dir, 'missing.toml'), 'central');
    assert.equal(p.source, 'the default rules (no policy.toml)');
    assert.equal(p.decide(ask('central', 'REQCliCommand')).allow, true);
    assert.deepEqual(p.decide(ask('ship1', 'REQCliCommand', ['uptime'])), DENY);
  });

  it("appends the default rules to the file's own", () => {
    const f = file('with-defaults.toml', ship1Uptime);
    const p = new Policy(f, 'central');
    assert.equal(p.source, `${f} (then the default rules)`);
    assert.deepEqual(p.decide(ask('ship1', 'REQCliCommand', ['uptime'])), { allow: true, rule: 'ship1 uptime' });
    assert.equal(p.decide(ask('central', 'REQCliCommand', ['reboot'])).allow, true);
    assert.equal(p.decide(ask('ship1', 'REQHello')).allow, true);
  });

  it('leaves only the file’s rules with defaults = false', () => {
    const f = file('no-defaults.toml', `defaults = false\n${ship1Uptime}`);
    const p = new Policy(f, 'central');
    assert.equal(p.source, f);
    assert.equal(p.decide(ask('ship1', 'REQCliCommand', ['uptime'])).allow, true);
    assert.deepEqual(p.decide(ask('central', 'REQCliCommand', ['reboot'])), DENY);
    assert.deepEqual(p.decide(ask('ship1', 'REQHello')), DENY);
  });

  it('refuses to start on a bad file, naming it', () => {
    const f = file('bad-start.toml', '[[rule]]\nfrom = ["a"]\nmethods = ["*"]\naction = "maybe"\n');
    assert.throws(() => new Policy(f, 'central'), { name: 'PolicyError', message: `${f}, rule 1: action must be "allow" or "deny"` });
    assert.throws(() => new Policy(dir, 'central'), { name: 'PolicyError', message: new RegExp(`^cannot read ${dir}: `) });
  });

  it('keeps the rules in force when a reload finds a bad file, and takes a good one', () => {
    const f = file('reload.toml', ship1Uptime);
    const p = new Policy(f, 'central');
    fs.writeFileSync(f, `${ship1Uptime}\n[[rule]]\nfrom = []\nmethods = ["*"]\naction = "allow"\n`);
    assert.throws(() => p.reload(), { name: 'PolicyError', message: `${f}, rule 2: from must be a non-empty list of strings` });
    assert.equal(p.source, `${f} (then the default rules)`);
    assert.equal(p.decide(ask('ship1', 'REQCliCommand', ['uptime'])).allow, true);
    fs.writeFileSync(f, 'defaults = false\n');
    assert.deepEqual(p.reload(), { rules: 0, source: f });
    assert.deepEqual(p.decide(ask('ship1', 'REQCliCommand', ['uptime'])), DENY);
    fs.rmSync(f);
    assert.deepEqual(p.reload(), { rules: 3, source: 'the default rules (no policy.toml)' });
  });
});
