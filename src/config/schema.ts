/**
 * Every configuration field of steward: its flag name (the seed's, camelCase), its key in
 * `config.toml` (the seed's PascalCase field name), its type, default and help text.
 * Flags, the config file and `--help` are all derived from this one table.
 */

export type FieldType = 'string' | 'int' | 'bool';

/** How commands are forked (`spawnHelper`): `auto` through the helper during bursts, `on` always, `off` never. */
export const SPAWN_HELPER_MODES = ['auto', 'on', 'off'] as const;
export type SpawnHelperMode = (typeof SPAWN_HELPER_MODES)[number];

/** How the key of a new node name is bound (`trustNewKeys`). */
export const TRUST_NEW_KEYS = ['tofu', 'manual'] as const;

export interface FieldSpec {
  /** Flag name, e.g. `nodeName` (used as `-nodeName=x` or `--nodeName x`). */
  readonly flag: string;
  /** Key in config.toml, e.g. `NodeName`. */
  readonly key: string;
  readonly type: FieldType;
  readonly default: string | number | boolean;
  readonly help: string;
}

/** A string field whose default is empty (off). */
const text = (flag: string, key: string, help: string): FieldSpec => ({ flag, key, type: 'string', default: '', help });

const sub = (method: string, help: string, def = true): FieldSpec => ({
  flag: `startSub${method}`,
  key: `StartSub${method}`,
  type: 'bool',
  default: def,
  help,
});

export const FIELDS = [
  {
    flag: 'nodeName',
    key: 'NodeName',
    type: 'string',
    default: '',
    help: 'some unique string to identify this node (required; letters, digits, _ and -)',
  },
  {
    flag: 'centralNodeName',
    key: 'CentralNodeName',
    type: 'string',
    default: '',
    help: 'the central node: receives error messages and hello messages from every node (required)',
  },
  text(
    'labels',
    'Labels',
    'labels of this node, key=value,key=value (e.g. role=ship,site=north): sent in its hellos, kept by central, used by --where and "where" to pick nodes',
  ),
  {
    flag: 'brokerAddress',
    key: 'BrokerAddress',
    type: 'string',
    default: '127.0.0.1:4222',
    help: 'address of the NATS broker, host:port or nats://host:port; several comma-separated URLs (servers of one cluster) are tried in random order',
  },
  {
    flag: 'socketFolder',
    key: 'SocketFolder',
    type: 'string',
    default: './tmp',
    help: 'folder for the unix socket steward.sock that accepts messages',
  },
  text('tcpListener', 'TCPListener', 'host:port of a TCP listener accepting messages (empty = off; an empty host, :port, binds 127.0.0.1)'),
  text(
    'httpListener',
    'HTTPListener',
    'host:port of an HTTP listener accepting messages by POST (empty = off; an empty host, :port, binds 127.0.0.1)',
  ),
  text(
    'readFolder',
    'ReadFolder',
    'folder watched for message files: each is handled once, then removed; bad ones go to <dir>/failed/ (empty = off)',
  ),
  {
    flag: 'databaseFolder',
    key: 'DatabaseFolder',
    type: 'string',
    default: './var/lib',
    help: 'folder of the durable store (outbox, inbox ledger) and the audit log',
  },
  {
    flag: 'subscribersDataFolder',
    key: 'SubscribersDataFolder',
    type: 'string',
    default: './data',
    help: 'folder where result files, the error log and hello logs are written',
  },
  {
    flag: 'ringBufferSize',
    key: 'RingBufferSize',
    type: 'int',
    default: 1000,
    help: 'maximum messages in flight (waiting for an ACK) per destination node',
  },
  { flag: 'natsConnOptTimeout', key: 'NatsConnOptTimeout', type: 'int', default: 20, help: 'NATS client connect timeout in seconds' },
  {
    flag: 'natsConnectRetryInterval',
    key: 'NatsConnectRetryInterval',
    type: 'int',
    default: 10,
    help: 'seconds between attempts of the first connection to the broker',
  },
  { flag: 'natsReconnectJitter', key: 'NatsReconnectJitter', type: 'int', default: 100, help: 'NATS reconnect jitter in milliseconds' },
  {
    flag: 'natsReconnectJitterTLS',
    key: 'NatsReconnectJitterTLS',
    type: 'int',
    default: 5,
    help: 'NATS reconnect jitter for TLS connections in seconds',
  },
  text(
    'profilingPort',
    'ProfilingPort',
    'host:port (or a bare port) where a CPU profile (GET /debug/cpu?seconds=N) and a heap snapshot (GET /debug/heap) of this node are served, operator token required (empty = off; an empty host or a bare port means 127.0.0.1)',
  ),
  text(
    'promHostAndPort',
    'PromHostAndPort',
    'host:port where Prometheus metrics are served at /metrics, e.g. 127.0.0.1:2112 (empty = off; an empty host as in :2112 means 127.0.0.1; give 0.0.0.0:2112 to listen on every interface)',
  ),
  {
    flag: 'defaultMessageTimeout',
    key: 'DefaultMessageTimeout',
    type: 'int',
    default: 10,
    help: 'seconds to wait for an ACK when a message gives no ACKTimeout',
  },
  {
    flag: 'defaultMessageRetries',
    key: 'DefaultMessageRetries',
    type: 'int',
    default: 1,
    help: 're-sends after the first attempt when a message gives no retries (-1 = until delivered)',
  },
  {
    flag: 'defaultMethodTimeout',
    key: 'DefaultMethodTimeout',
    type: 'int',
    default: 10,
    help: 'seconds a method may run when a message gives no methodTimeout (-1 = no limit)',
  },
  text(
    'rootCAPath',
    'RootCAPath',
    'path to the root CA certificate (PEM) that signed the broker TLS certificate; turns TLS on and trusts only this CA',
  ),
  text('nkeySeedFile', 'NkeySeedFile', 'path to the nkey user seed file (SU...) used to authenticate to the broker'),
  text(
    'tlsCertPath',
    'TLSCertPath',
    'path to the client certificate (PEM) for a broker that requires TLS client certificates (with tlsKeyPath)',
  ),
  text('tlsKeyPath', 'TLSKeyPath', 'path to the private key (PEM) of the tlsCertPath client certificate'),
  {
    flag: 'inputAuth',
    key: 'InputAuth',
    type: 'string',
    default: 'token',
    help: 'what the TCP and HTTP inputs require: token = the operator token (steward token) as the first line over TCP or as Authorization: Bearer over HTTP, or a client certificate on a TLS TCP listener; none = nothing, for a trusted network only (a warning at every start)',
  },
  text(
    'tcpTLSCertPath',
    'TCPTLSCertPath',
    'certificate (PEM) of the TCP listener: with tcpTLSKeyPath it speaks TLS; with tcpTLSClientCAPath a client certificate signed by that CA replaces the token',
  ),
  { flag: 'tcpTLSKeyPath', key: 'TCPTLSKeyPath', type: 'string', default: '', help: 'private key (PEM) of tcpTLSCertPath' },
  text('tcpTLSClientCAPath', 'TCPTLSClientCAPath', 'CA (PEM) whose client certificates the TLS TCP listener accepts instead of the token'),
  {
    flag: 'minFreeDiskMB',
    key: 'MinFreeDiskMB',
    type: 'int',
    default: 512,
    help: 'below this much free space (in MB) in the data folder, messages that write into it (results, copies, error lines) are refused with an error line to their sender and central; nothing stored is lost (0 = no check)',
  },
  text(
    'copyDestinations',
    'CopyDestinations',
    'comma-separated folders REQCopyFileTo may write into on this node (empty = only the data folder); copied files never get setuid, setgid or sticky bits',
  ),
  {
    flag: 'trust',
    key: 'Trust',
    type: 'string',
    default: 'on',
    help: 'on: every message and ACK carries a proof of its origin (the node key), checked before anything in it is read, and a policy (policy.toml) decides what each node may ask; off: no proofs and no policy, anyone who can publish on the broker commands this node (a warning at every start)',
  },
  {
    flag: 'trustNewKeys',
    key: 'TrustNewKeys',
    type: 'string',
    default: 'tofu',
    help: 'how the key of a node name never seen before is bound: tofu = pinned on first use (at most 10 new names a minute), manual = it waits for steward keys accept <node>',
  },
  {
    flag: 'trustNewKeysPerMinute',
    key: 'TrustNewKeysPerMinute',
    type: 'int',
    default: 10,
    help: 'new node names bound (tofu) or put to wait (manual) at most per minute: one stolen key cannot mint thousands of identities (to bring up a large fleet at once, raise it for the time, or steward keys import its keys)',
  },
  text(
    'centralPublicKey',
    'CentralPublicKey',
    "the central node's public key (U...), or a file holding it: bound at start instead of pinned on first use",
  ),
  text(
    'webListener',
    'WebListener',
    'host:port of the web console (empty = off; an empty host, :port, binds 127.0.0.1): log in with the operator token (steward token)',
  ),
  text(
    'webTLSCertPath',
    'WebTLSCertPath',
    'certificate (PEM) of the web console and of exposeDataFolder: with webTLSKeyPath they speak HTTPS',
  ),
  text('webTLSKeyPath', 'WebTLSKeyPath', 'private key (PEM) of webTLSCertPath'),
  text(
    'exposeDataFolder',
    'ExposeDataFolder',
    'host:port serving the data folder read-only over HTTP (listings, downloads with ranges), behind the web console login or the operator token as Bearer (empty = off)',
  ),
  {
    flag: 'errorMessageTimeout',
    key: 'ErrorMessageTimeout',
    type: 'int',
    default: 60,
    help: 'ACK timeout in seconds for error messages sent to the central node',
  },
  {
    flag: 'errorMessageRetries',
    key: 'ErrorMessageRetries',
    type: 'int',
    default: 10,
    help: 're-sends of error messages sent to the central node',
  },
  {
    flag: 'compression',
    key: 'Compression',
    type: 'string',
    default: '',
    help: 'compression of published payloads: "" none, g = gzip, z = zstd (receivers detect any of them)',
  },
  {
    flag: 'serialization',
    key: 'Serialization',
    type: 'string',
    default: 'cbor',
    help: 'wire format of published messages: cbor or json (receivers detect either)',
  },
  { flag: 'setBlockProfileRate', key: 'SetBlockProfileRate', type: 'int', default: 0, help: 'accepted for compatibility; has no effect' },
  {
    flag: 'startPubREQHello',
    key: 'StartPubREQHello',
    type: 'int',
    default: 30,
    help: 'send a hello message to the central node every N seconds (0 = off)',
  },
  {
    flag: 'spawnHelper',
    key: 'SpawnHelper',
    type: 'string',
    default: 'auto',
    help: 'how commands are started: auto = by a small helper process while 4 or more run at once (faster forks, the event loop stays free), on = always by the helper, off = by the node itself',
  },
  sub('REQErrorLog', 'subscribe to error messages (the central node writes them to its error log)'),
  sub('REQHello', 'subscribe to hello messages'),
  sub('REQToFileAppend', 'subscribe to REQToFileAppend (append reply data to a file)'),
  sub('REQToFile', 'subscribe to REQToFile (write reply data to a file)'),
  sub('REQCopyFileFrom', 'subscribe to REQCopyFileFrom (send files from this node)'),
  sub('REQCopyFileTo', 'subscribe to REQCopyFileTo (receive copied files on this node)'),
  sub('REQPing', 'subscribe to REQPing'),
  sub('REQPong', 'subscribe to REQPong'),
  sub('REQCliCommand', 'subscribe to REQCliCommand (run a command)'),
  sub('REQToConsole', 'subscribe to REQToConsole (print reply data on stdout)'),
  sub('REQHttpGet', 'subscribe to REQHttpGet (GET a URL, reply with the body)'),
  sub('REQTailFile', 'subscribe to REQTailFile (follow a file, send new lines back)'),
  sub('REQCliCommandCont', 'subscribe to REQCliCommandCont (run a command, stream its output back)'),
  sub('REQRelay', 'subscribe to REQRelay: relay messages other nodes send with relayViaNode naming this node', false),
] as const satisfies readonly FieldSpec[];

/** Configuration values by flag name, as the seed gives them (seconds, strings); any subset. */
export type RawConfig = Record<string, string | number | boolean>;

export function defaults(): RawConfig {
  const out: RawConfig = {};
  for (const f of FIELDS) out[f.flag] = f.default;
  return out;
}

export function fieldByFlag(flag: string): FieldSpec | undefined {
  return FIELDS.find((f) => f.flag === flag);
}

export function fieldByKey(key: string): FieldSpec | undefined {
  return FIELDS.find((f) => f.key === key);
}
