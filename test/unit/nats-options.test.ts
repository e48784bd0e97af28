import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { UsageError } from '../../src/config/flags.js';
import { loadConfig } from '../../src/config/load.js';

const made: string[] = [];
const etc = (): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'steward-natsopts-'));
  made.push(dir);
  return path.join(dir, 'etc');
};
const names = { nodeName: 'ship1', centralNodeName: 'central' };

describe('NATS connection settings', () => {
  after(() => {
    for (const d of made) fs.rmSync(d, { recursive: true, force: true });
  });

  it('converts the seed units once: connect timeout and retry interval in s, jitter in ms, TLS jitter in s', () => {
    const cfg = loadConfig(etc(), {
      ...names,
      natsConnOptTimeout: 7,
      natsConnectRetryInterval: 3,
      natsReconnectJitter: 250,
      natsReconnectJitterTLS: 2,
    });
    assert.deepEqual(
      [cfg.connectTimeoutMs, cfg.connectRetryIntervalMs, cfg.reconnectJitterMs, cfg.reconnectJitterTlsMs],
      [7000, 3000, 250, 2000],
    );
  });

  it('has the seed defaults: 20 s connect timeout, 10 s retry interval, 100 ms jitter, 5 s TLS jitter', () => {
    const cfg = loadConfig(etc(), names);
    assert.deepEqual(
      [cfg.connectTimeoutMs, cfg.connectRetryIntervalMs, cfg.reconnectJitterMs, cfg.reconnectJitterTlsMs],
      [20_000, 10_000, 100, 5000],
    );
  });

  it('splits -brokerAddress into a list of URLs, ignoring spaces and empty entries', () => {
    const cfg = loadConfig(etc(), { ...names, brokerAddress: 'nats://10.0.0.1:4222, 10.0.0.2:4222,,nats://h3:4223 ' });
    assert.deepEqual(cfg.brokerServers, ['nats://10.0.0.1:4222', '10.0.0.2:4222', 'nats://h3:4223']);
  });

  it('refuses a connect timeout or retry interval below 1 s and a negative jitter', () => {
    for (const bad of [
      { natsConnOptTimeout: 0 },
      { natsConnectRetryInterval: 0 },
      { natsReconnectJitter: -1 },
      { natsReconnectJitterTLS: -1 },
    ]) {
      assert.throws(() => loadConfig(etc(), { ...names, ...bad }), UsageError, JSON.stringify(bad));
    }
  });
});
