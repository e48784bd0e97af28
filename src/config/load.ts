import fs from 'node:fs';
import path from 'node:path';
import { parse as parseToml, stringify as stringifyToml } from 'smol-toml';
import { convert, UsageError } from './flags.js';
import { parseListenAddress, type ListenAddress } from './listen.js';
import { defaults, FIELDS, fieldByKey, SPAWN_HELPER_MODES, TRUST_NEW_KEYS, type RawConfig, type SpawnHelperMode } from './schema.js';
import { didYouMean } from '../lib/closest.js';
import { NODE_NAME } from '../message/message.js';
import { readFileFor, readTcpTls, readTlsFiles, readWebTls, type TlsMaterial } from './tls.js';

/** The configuration compiled once into the units the code uses. */
export interface ResolvedConfig {
  readonly nodeName: string;
  /** This node's labels (-labels), sent in its hellos. */
  readonly labels: Readonly<Record<string, string>>;
  readonly centralNodeName: string;
  readonly brokerServers: string[];
  readonly configFolder: string;
  readonly socketPath: string;
  readonly databaseFolder: string;
  readonly dataFolder: string;
  readonly maxInFlightPerNode: number;
  readonly connectTimeoutMs: number;
  readonly connectRetryIntervalMs: number;
  readonly reconnectJitterMs: number;
  readonly reconnectJitterTlsMs: number;
  /** TLS material read at start from rootCAPath, tlsCertPath, tlsKeyPath; undefined when none is given. */
  readonly tls: TlsMaterial | undefined;
  /** The nkey user seed file (nkeySeedFile): the node's key for the broker and for its messages; undefined when not given. */
  readonly nkeySeedFile: string | undefined;
  /** Proofs of origin and the policy (trust on), or none. */
  readonly trust: boolean;
  readonly trustNewKeys: (typeof TRUST_NEW_KEYS)[number];
  readonly newNamesPerMinute: number;
  /** Central's public key (U...) given at start, or undefined. */
  readonly centralPublicKey: string | undefined;
  /** The node's own key when no nkeySeedFile is given: made at the first start. */
  readonly identityFile: string;
  readonly policyFile: string;
  readonly defaultAckTimeoutMs: number;
  readonly defaultRetries: number;
  readonly defaultMethodTimeoutMs: number;
  readonly errorAckTimeoutMs: number;
  readonly errorRetries: number;
  readonly compression: '' | 'g' | 'z';
  readonly serialization: 'cbor' | 'json';
  readonly helloIntervalMs: number;
  /** How commands are forked (spawnHelper). */
  readonly spawnHelper: SpawnHelperMode;
  /** Where Prometheus metrics are served (promHostAndPort); undefined = metrics off. */
  readonly metricsAddress: ListenAddress | undefined;
  /** Where CPU profiles and heap snapshots are served (profilingPort); undefined = off. */
  readonly profilingAddress: ListenAddress | undefined;
  /** The optional inputs; undefined = off. An empty host binds localhost. */
  readonly tcpAddress: ListenAddress | undefined;
  /** TLS of the TCP listener (PEM text): its certificate and key, and the CA of the client certificates it takes. */
  readonly tcpTls: { cert: string; key: string; clientCa?: string } | undefined;
  /** Free space the data folder keeps: messages that write into it are refused below it (0: no check). */
  readonly minFreeDiskBytes: number;
  /** The folders REQCopyFileTo may write into (absolute). */
  readonly copyRoots: readonly string[];
  /** What the TCP and HTTP inputs require: the operator token (or a client certificate), or nothing. */
  readonly inputAuth: 'token' | 'none';
  readonly httpAddress: ListenAddress | undefined;
  /** The web console (webListener) and the data folder over HTTP (exposeDataFolder); undefined = off. */
  readonly webAddress: ListenAddress | undefined;
  readonly dataFolderAddress: ListenAddress | undefined;
  /** HTTPS of both (webTLSCertPath, webTLSKeyPath), PEM text. */
  readonly webTls: { cert: string; key: string } | undefined;
  readonly readFolder: string | undefined;
  /** Method name -> its startSub switch (methods without a switch are always on). */
  readonly subscriberSwitches: ReadonlyMap<string, boolean>;
  /** Delivery: messages in flight at most per destination (ringBufferSize) and over all destinations. */
  readonly maxInFlightTotal: number;
  /**
   * Delivery: messages held in memory (with their wire form) per destination and overall; the
   * rest waits in the outbox only and is read back in order when there is room.
   */
  readonly maxQueuedPerNode: number;
  readonly maxQueuedTotal: number;
  /** Methods running at once on this node. */
  readonly executorLimit: number;
  /** How long a stopping node lets its running methods finish before it aborts them. */
  readonly stopGraceMs: number;
  /** Messages of one input committed per transaction (delivery of the first starts meanwhile). */
  readonly submitChunk: number;
}

/**
 * Reads `<configFolder>/config.toml` (if any), applies `flagValues` on top, compiles it, lets
 * `check` refuse it, and writes the merged result back. Throws UsageError with a clear message on bad values.
 */
export function loadConfig(configFolder: string, flagValues: RawConfig, check?: (cfg: ResolvedConfig) => void): ResolvedConfig {
  const file = path.join(configFolder, 'config.toml');
  const merged: RawConfig = { ...defaults(), ...readConfigFile(file), ...flagValues };
  const resolved = resolve(merged, configFolder);
  // What the caller reads at start (key files) is checked before a bad value is written back.
  check?.(resolved);
  fs.mkdirSync(configFolder, { recursive: true, mode: 0o700 });
  writeConfigFile(file, merged);
  return resolved;
}

function readConfigFile(file: string): RawConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new UsageError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text);
  } catch (err) {
    throw new UsageError(`config file ${file} is not valid TOML: ${(err as Error).message}`);
  }
  const out: RawConfig = {};
  for (const [key, value] of Object.entries(doc)) {
    if (key === 'ConfigFolder') continue;
    const field = fieldByKey(key) ?? FIELDS.find((f) => f.key.toLowerCase() === key.toLowerCase());
    if (field === undefined) {
      throw new UsageError(
        `config file ${file}: unknown key ${key}${didYouMean(
          key,
          FIELDS.map((f) => f.key),
        )}`,
      );
    }
    const where = `config file ${file}, key ${key}`;
    const v = typeof value === 'bigint' ? Number(value) : value;
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') {
      out[field.flag] = typeof v === 'string' && field.type !== 'string' ? convert(field, v, where) : checkType(field.type, v, where);
    } else {
      throw new UsageError(`${where}: expected a ${field.type}`);
    }
  }
  return out;
}

function checkType(type: string, v: string | number | boolean, where: string): string | number | boolean {
  const ok =
    (type === 'string' && typeof v === 'string') ||
    (type === 'int' && typeof v === 'number' && Number.isInteger(v)) ||
    (type === 'bool' && typeof v === 'boolean');
  if (!ok) throw new UsageError(`${where}: expected a ${type === 'int' ? 'whole number' : type}, got ${JSON.stringify(v)}`);
  return v;
}

function writeConfigFile(file: string, merged: RawConfig): void {
  const doc: Record<string, string | number | boolean> = {};
  for (const f of FIELDS) doc[f.key] = merged[f.flag] ?? f.default;
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, stringifyToml(doc) + '\n', { mode: 0o600 });
  fs.renameSync(tmp, file);
}

function resolve(c: RawConfig, configFolder: string): ResolvedConfig {
  const str = (k: string): string => String(c[k] ?? '');
  const int = (k: string): number => Number(c[k] ?? 0);
  const nodeName = str('nodeName');
  const centralNodeName = str('centralNodeName');
  if (nodeName === '') throw new UsageError('the nodeName config option or flag cannot be empty, give -nodeName=<name> (see --help)');
  if (centralNodeName === '') {
    throw new UsageError('the centralNodeName config option or flag cannot be empty, give -centralNodeName=<name> (see --help)');
  }
  for (const [flag, v] of [
    ['nodeName', nodeName],
    ['centralNodeName', centralNodeName],
  ] as const) {
    if (!NODE_NAME.test(v)) throw new UsageError(`-${flag}="${v}": use only letters, digits, _ and - (it becomes a NATS subject token)`);
  }
  const compression = str('compression');
  if (compression !== '' && compression !== 'g' && compression !== 'z') {
    throw new UsageError(`-compression="${compression}": use "" (none), "g" (gzip) or "z" (zstd)`);
  }
  const serialization = str('serialization') === '' ? 'cbor' : str('serialization').toLowerCase();
  if (serialization !== 'cbor' && serialization !== 'json') {
    throw new UsageError(`-serialization="${serialization}": use "cbor" or "json"`);
  }
  const spawnHelper = str('spawnHelper').toLowerCase();
  if (!(SPAWN_HELPER_MODES as readonly string[]).includes(spawnHelper)) {
    throw new UsageError(`-spawnHelper="${str('spawnHelper')}": use ${SPAWN_HELPER_MODES.map((m) => `"${m}"`).join(', ')}`);
  }
  const trust = str('trust').toLowerCase();
  if (trust !== 'on' && trust !== 'off') throw new UsageError(`-trust="${str('trust')}": use "on" or "off"`);
  const trustNewKeys = str('trustNewKeys').toLowerCase();
  if (!(TRUST_NEW_KEYS as readonly string[]).includes(trustNewKeys)) {
    throw new UsageError(`-trustNewKeys="${str('trustNewKeys')}": use ${TRUST_NEW_KEYS.map((m) => `"${m}"`).join(' or ')}`);
  }
  const centralPublicKey = readCentralKey(str('centralPublicKey').trim());
  const inputAuth = str('inputAuth').toLowerCase();
  if (inputAuth !== 'token' && inputAuth !== 'none') throw new UsageError(`-inputAuth="${str('inputAuth')}": use "token" or "none"`);
  for (const k of ['ringBufferSize', 'natsConnOptTimeout', 'natsConnectRetryInterval'] as const) {
    if (int(k) < 1) throw new UsageError(`-${k}=${int(k)}: must be at least 1`);
  }
  for (const k of ['natsReconnectJitter', 'natsReconnectJitterTLS', 'startPubREQHello'] as const) {
    if (int(k) < 0) throw new UsageError(`-${k}=${int(k)}: must not be negative`);
  }
  const brokerServers = str('brokerAddress')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (brokerServers.length === 0) throw new UsageError('-brokerAddress cannot be empty, e.g. -brokerAddress=127.0.0.1:4222');
  const switches = new Map<string, boolean>();
  for (const f of FIELDS)
    if (f.flag.startsWith('startSubREQ')) switches.set(f.flag.slice('startSub'.length), Boolean(c[f.flag] ?? f.default));
  const positive = (v: number, fallback: number): number => (v >= 1 ? v : fallback);
  const tls = readTlsFiles(str('rootCAPath'), str('tlsCertPath'), str('tlsKeyPath'));
  const maxInFlightPerNode = int('ringBufferSize');
  return {
    nodeName,
    labels: parseLabelFlag(str('labels')),
    centralNodeName,
    brokerServers,
    configFolder,
    socketPath: path.resolve(str('socketFolder'), 'steward.sock'),
    databaseFolder: path.resolve(str('databaseFolder')),
    dataFolder: path.resolve(str('subscribersDataFolder')),
    maxInFlightPerNode,
    connectTimeoutMs: int('natsConnOptTimeout') * 1000,
    connectRetryIntervalMs: int('natsConnectRetryInterval') * 1000,
    reconnectJitterMs: int('natsReconnectJitter'),
    reconnectJitterTlsMs: int('natsReconnectJitterTLS') * 1000,
    tls,
    nkeySeedFile: str('nkeySeedFile') === '' ? undefined : str('nkeySeedFile'),
    trust: trust === 'on',
    trustNewKeys: trustNewKeys as (typeof TRUST_NEW_KEYS)[number],
    newNamesPerMinute: Math.max(1, int('trustNewKeysPerMinute')),
    centralPublicKey,
    identityFile: path.join(configFolder, 'identity.nk'),
    policyFile: path.join(configFolder, 'policy.toml'),
    defaultAckTimeoutMs: positive(int('defaultMessageTimeout'), 10) * 1000,
    defaultRetries: int('defaultMessageRetries') === -1 ? -1 : Math.max(0, int('defaultMessageRetries')),
    defaultMethodTimeoutMs: int('defaultMethodTimeout') === -1 ? -1 : positive(int('defaultMethodTimeout'), 10) * 1000,
    errorAckTimeoutMs: positive(int('errorMessageTimeout'), 60) * 1000,
    errorRetries: int('errorMessageRetries') === -1 ? -1 : Math.max(0, int('errorMessageRetries')),
    compression,
    serialization,
    helloIntervalMs: int('startPubREQHello') * 1000,
    spawnHelper: spawnHelper as SpawnHelperMode,
    metricsAddress: parseListenAddress('promHostAndPort', str('promHostAndPort')),
    // A bare port, as the Go original took it (pprof on localhost:<port>), is 127.0.0.1:<port>.
    profilingAddress: parseListenAddress(
      'profilingPort',
      str('profilingPort')
        .trim()
        .replace(/^(\d+)$/, ':$1'),
    ),
    tcpAddress: parseListenAddress('tcpListener', str('tcpListener')),
    tcpTls: readTcpTls(str('tcpTLSCertPath'), str('tcpTLSKeyPath'), str('tcpTLSClientCAPath')),
    inputAuth: inputAuth,
    minFreeDiskBytes: Math.max(0, int('minFreeDiskMB')) * 1024 * 1024,
    copyRoots:
      str('copyDestinations').trim() === ''
        ? [path.resolve(str('subscribersDataFolder'))]
        : str('copyDestinations')
            .split(',')
            .map((d) => d.trim())
            .filter((d) => d !== '')
            .map((d) => path.resolve(d)),
    httpAddress: parseListenAddress('httpListener', str('httpListener')),
    webAddress: parseListenAddress('webListener', str('webListener')),
    dataFolderAddress: parseListenAddress('exposeDataFolder', str('exposeDataFolder')),
    webTls: readWebTls(str('webTLSCertPath'), str('webTLSKeyPath')),
    readFolder: str('readFolder').trim() === '' ? undefined : path.resolve(str('readFolder').trim()),
    subscriberSwitches: switches,
    maxInFlightTotal: maxInFlightPerNode * 8,
    // A large input stays in memory (with its wire form) instead of being read back from the
    // outbox and encoded again: up to 10 windows per node, 20 overall (about 2 KB each).
    maxQueuedPerNode: maxInFlightPerNode * 10,
    maxQueuedTotal: maxInFlightPerNode * 20,
    executorLimit: 64,
    stopGraceMs: 3000,
    submitChunk: 500,
  };
}

/** -centralPublicKey: a U... key, or a file holding one (checked at start). */
function readCentralKey(v: string): string | undefined {
  if (v === '') return undefined;
  const text = /^U[A-Z2-7]{55}$/.test(v) ? v : readFileFor('centralPublicKey', v).trim();
  const key = text.split(/\s+/).find((t) => /^U[A-Z2-7]{55}$/.test(t));
  if (key === undefined) throw new UsageError(`-centralPublicKey=${v}: give a public key (U..., 56 characters) or a file that holds one`);
  return key;
}

/** -labels: key=value,key=value (keys: letters, digits, _ . -; values also : and /). */
function parseLabelFlag(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(',')) {
    const p = part.trim();
    if (p === '') continue;
    const eq = p.indexOf('=');
    const key = eq <= 0 ? '' : p.slice(0, eq).trim();
    const value = eq <= 0 ? '' : p.slice(eq + 1).trim();
    if (!/^[A-Za-z0-9_.-]{1,63}$/.test(key) || !/^[A-Za-z0-9_.:/-]{0,128}$/.test(value)) {
      throw new UsageError(`-labels="${text}": "${p}" is not key=value (keys: letters, digits, _ . -; values also : and /)`);
    }
    out[key] = value;
  }
  if (Object.keys(out).length > 32) throw new UsageError(`-labels: at most 32 labels`);
  return out;
}
