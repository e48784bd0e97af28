import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { helpText, parseFlags, UsageError } from '../../src/config/flags.js';
import { FIELDS } from '../../src/config/schema.js';

describe('Go-style flags', () => {
  it('accepts -name=value, --name=value, -name value and --name value', () => {
    const { values } = parseFlags(['-nodeName=a', '--centralNodeName=b', '-brokerAddress', 'nats://h:1', '--socketFolder', './s']);
    assert.deepEqual(values, { nodeName: 'a', centralNodeName: 'b', brokerAddress: 'nats://h:1', socketFolder: './s' });
  });

  it('reads booleans as -flag (true) and -flag=false, as Go does', () => {
    assert.deepEqual(parseFlags(['-startSubREQErrorLog', '-startSubREQHello=false']).values, {
      startSubREQErrorLog: true,
      startSubREQHello: false,
    });
  });

  it('converts whole numbers and rejects anything else with the flag named', () => {
    assert.equal(parseFlags(['-defaultMessageRetries=-1']).values.defaultMessageRetries, -1);
    assert.throws(() => parseFlags(['-defaultMessageTimeout=ten']), /flag -defaultMessageTimeout: "ten" is not a whole number/);
  });

  it('names the closest flag when a flag is unknown', () => {
    assert.throws(
      () => parseFlags(['-nodename2=x']),
      (err: unknown) => err instanceof UsageError && /unknown flag -nodename2 \(did you mean "nodeName"\?\)/.test(err.message),
    );
    assert.throws(() => parseFlags(['--node=ship2']), /unknown flag -node \(did you mean "nodeName"\?\)/);
  });

  it('says a value is missing at the end of the line', () => {
    assert.throws(() => parseFlags(['-nodeName']), /flag -nodeName needs a value/);
  });

  it('lists every flag with its default in --help', () => {
    assert.equal(parseFlags(['--help']).help, true);
    const text = helpText();
    for (const f of FIELDS) assert.ok(text.includes(`-${f.flag}`), `help lists -${f.flag}`);
    assert.match(text, /-defaultMessageTimeout int\n\s+.*\(default 10\)/);
  });
});
