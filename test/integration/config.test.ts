import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { STEWARD_BIN } from '../support/steward.js';
import { tempFolders } from '../support/temp.js';
import { loadConfig } from '../../src/config/load.js';
import { UsageError } from '../../src/config/flags.js';

const tmp = tempFolders('steward-config');

function run(args: string[], cwd: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(STEWARD_BIN, args, { cwd, env: { ...process.env, CONFIG_FOLDER: './etc/' }, encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('configuration', () => {
  it('prints every flag with its default for --help and exits 0', () => {
    const r = run(['--help'], tmp());
    assert.equal(r.code, 0);
    assert.match(r.stdout, /-nodeName string/);
    assert.match(r.stdout, /-startSubREQCliCommand\n\s+.*\(default true\)/);
  });

  it('refuses an unknown flag with a usage error naming the closest flag', () => {
    const r = run(['-nodeNmae=ship1'], tmp());
    assert.equal(r.code, 2);
    assert.match(r.stderr, /steward: unknown flag -nodeNmae \(did you mean "nodeName"\?\)/);
  });

  it('requires nodeName and centralNodeName with a clear message', () => {
    const dir = tmp();
    const r1 = run([], dir);
    assert.equal(r1.code, 2);
    assert.match(r1.stderr, /the nodeName config option or flag cannot be empty/);
    const r2 = run(['-nodeName=ship1'], dir);
    assert.match(r2.stderr, /the centralNodeName config option or flag cannot be empty/);
  });

  it('layers defaults < config file < flags and writes the merged result back', () => {
    const dir = tmp();
    const etc = path.join(dir, 'etc');
    fs.mkdirSync(etc);
    fs.writeFileSync(
      path.join(etc, 'config.toml'),
      'NodeName = "fromfile"\nCentralNodeName = "central"\nDefaultMessageRetries = 7\nDefaultMessageTimeout = 3\n',
    );
    const cfg = loadConfig(etc, { defaultMessageTimeout: 4 });
    assert.equal(cfg.nodeName, 'fromfile');
    assert.equal(cfg.defaultRetries, 7);
    assert.equal(cfg.defaultAckTimeoutMs, 4000);
    assert.equal(cfg.defaultMethodTimeoutMs, 10_000);
    const written = fs.readFileSync(path.join(etc, 'config.toml'), 'utf8');
    assert.match(written, /DefaultMessageTimeout = 4/);
    assert.match(written, /DefaultMessageRetries = 7/);
    assert.match(written, /SubscribersDataFolder = "\.\/data"/);
    // The next start without flags reuses the written values.
    assert.equal(loadConfig(etc, {}).defaultAckTimeoutMs, 4000);
  });

  it('reports a config file that is not TOML, or has an unknown key, by name', () => {
    const etc = path.join(tmp(), 'etc');
    fs.mkdirSync(etc);
    fs.writeFileSync(path.join(etc, 'config.toml'), 'NodeName = "x\n');
    assert.throws(
      () => loadConfig(etc, {}),
      (e: unknown) => e instanceof UsageError && /is not valid TOML/.test(e.message),
    );
    fs.writeFileSync(path.join(etc, 'config.toml'), 'NodeNam = "x"\n');
    assert.throws(() => loadConfig(etc, {}), /unknown key NodeNam \(did you mean "NodeName"\?\)/);
    fs.writeFileSync(path.join(etc, 'config.toml'), 'NodeName = "x"\nCentralNodeName = "c"\nDefaultMessageRetries = "many"\n');
    assert.throws(() => loadConfig(etc, {}), /key DefaultMessageRetries: "many" is not a whole number/);
  });

  it('refuses node names that cannot be NATS subject tokens', () => {
    const etc = path.join(tmp(), 'etc');
    assert.throws(() => loadConfig(etc, { nodeName: 'ship.1', centralNodeName: 'central' }), /use only letters, digits, _ and -/);
  });
});
