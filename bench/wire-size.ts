/**
 * Wire size of a typical command and its reply, for every serialization (cbor, json) and
 * compression (none, g, z): `npx tsx bench/wire-size.ts [--write]` (after `npm run build`).
 *
 * 1. Encoded sizes: the seed README's first example parsed as the socket input parses it, its
 *    reply built as the replying node builds it, both through encodeMessage (src/message/codec.ts).
 * 2. One real exchange per setting: central and ship1 (real bin/steward processes, each behind a
 *    byte-counting TCP proxy) on a real nats-server with monitoring; the same command is sent
 *    once and the bytes are read from the proxies (TCP, each way) and from nats-server's
 *    /varz and /connz counters (message bytes: headers + payload, as the server counts them).
 *
 * Prints markdown; --write regenerates docs/wire.md. B7 of `npm run bench` reuses its settings
 * and counters for the bytes of a B1 exchange.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { encodeAck } from '../src/message/ack.js';
import { encodeMessage, type WireOptions } from '../src/message/codec.js';
import type { Message } from '../src/message/message.js';
import { parseInput } from '../src/message/parse.js';
import { METHOD_NAMES } from '../src/methods/registry.js';
import { makeReply } from '../src/message/reply.js';
import { eventually, sleep } from '../test/support/eventually.js';
import { settled } from '../test/support/exactly-once.js';
import { ConfiguredNatsServer } from '../test/support/nats-configured.js';
import { StewardProcess } from '../test/support/steward.js';
import { TcpProxy } from '../test/support/tcp-proxy.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The seed README's first example, as an operator writes it. */
const SEED_EXAMPLE = {
  directory: '/var/cli/command_result/',
  fileName: 'some-file-name.result',
  toNode: 'ship1',
  method: 'REQCliCommand',
  methodArgs: ['bash', '-c', 'sleep 5 & ls ./'],
  replyMethod: 'REQToFileAppend',
  ACKTimeout: 5,
  retries: 3,
  replyACKTimeout: 5,
  replyRetries: 3,
  methodTimeout: 10,
};

/** What `ls ./` prints in a node's folder. */
const SMALL_OUTPUT = 'data\netc\ntmp\nvar\n';

/** A 4 KB `ps`-style listing: a larger, still typical, command output (fixed, so figures repeat). */
const PS_OUTPUT =
  [
    'USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND',
    ...Array.from({ length: 45 }, (_, i) => {
      const cmds = [
        '/usr/sbin/sshd -D',
        '/lib/systemd/systemd-journald',
        'node /opt/steward/dist/cli/main.js',
        '/usr/sbin/cron -f',
        'bash -c sleep 5',
      ];
      const user = i % 3 === 0 ? 'root    ' : 'steward ';
      return `${user} ${String(100 + i * 37).padStart(6)}  0.${i % 10}  ${(i % 7) / 10}  ${String(10_000 + i * 911).padStart(6)} ${String(2000 + i * 97).padStart(5)} ?        Ss   Nov24   0:0${i % 10} ${cmds[i % cmds.length]}`;
    }),
  ].join('\n') + '\n';

/** Every serialization x compression a node can be told to use (-serialization, -compression). */
export const SETTINGS: WireOptions[] = (['cbor', 'json'] as const).flatMap((serialization) =>
  (['', 'g', 'z'] as const).map((compression) => ({ serialization, compression })),
);

export const label = (o: WireOptions): string =>
  `${o.serialization}, ${o.compression === '' ? 'none' : o.compression === 'g' ? 'g (gzip)' : 'z (zstd)'}`;

/** Bytes of the NATS header block for these headers (what HPUB carries before the payload). */
function headerBytes(h: Record<string, string>): number {
  return Buffer.byteLength(
    `NATS/1.0\r\n${Object.entries(h)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('')}\r\n`,
  );
}

interface EncodedRow {
  setting: string;
  command: number;
  commandHeaders: number;
  replySmall: number;
  replyPs: number;
  replyHeaders: number;
}

async function encodedSizes(): Promise<{ rows: EncodedRow[]; ack: number; inputJson: number }> {
  const now = Date.UTC(2026, 10, 25, 12, 0, 0);
  const input = JSON.stringify([SEED_EXAMPLE]);
  const parsed = parseInput(Buffer.from(input), {
    nodeName: 'central',
    methods: METHOD_NAMES,
    defaultAckTimeoutMs: 10_000,
    defaultRetries: 1,
    defaultMethodTimeoutMs: 10_000,
    now: () => now,
  });
  const first = parsed[0];
  if (first === undefined || !first.ok) throw new Error(`the seed example does not parse: ${JSON.stringify(first)}`);
  const command: Message = first.message;
  const defaults = { nodeName: 'ship1', ackTimeoutMs: 10_000, retries: 1, methodTimeoutMs: 10_000 };
  const reply = (out: string): Message => {
    const r = makeReply(command, out, 0, defaults, now + 20);
    if (r === undefined) throw new Error('no reply');
    return r;
  };
  const rows: EncodedRow[] = [];
  for (const o of SETTINGS) {
    const c = await encodeMessage(command, o);
    const rs = await encodeMessage(reply(SMALL_OUTPUT), o);
    const rp = await encodeMessage(reply(PS_OUTPUT), o);
    rows.push({
      setting: label(o),
      command: c.payload.byteLength,
      commandHeaders: headerBytes(c.headers),
      replySmall: rs.payload.byteLength,
      replyPs: rp.payload.byteLength,
      replyHeaders: headerBytes(rs.headers),
    });
  }
  return { rows, ack: Buffer.byteLength(encodeAck({ id: command.id, status: 'ok' })), inputJson: Buffer.byteLength(input) };
}

interface Counters {
  up: number;
  down: number;
  inMsgs: number;
  inBytes: number;
  outMsgs: number;
  outBytes: number;
}

interface ExchangeRow {
  setting: string;
  central: Counters;
  ship1: Counters;
  varz: { inMsgs: number; inBytes: number; outMsgs: number; outBytes: number };
}

type Conn = { name?: string; in_msgs: number; in_bytes: number; out_msgs: number; out_bytes: number };
/** The message counters of nats-server's /varz (headers + payloads; protocol lines not counted). */
export type Varz = { in_msgs: number; in_bytes: number; out_msgs: number; out_bytes: number };

async function snapshot(
  nats: ConfiguredNatsServer,
  proxies: Record<'central' | 'ship1', TcpProxy>,
): Promise<{ conns: Record<string, Counters>; varz: Varz }> {
  const connz = await nats.monitor<{ connections: Conn[] }>('connz?limit=1024');
  const conns: Record<string, Counters> = {};
  for (const name of ['central', 'ship1'] as const) {
    const c = connz.connections.find((x) => x.name === name);
    if (c === undefined) throw new Error(`${name} is not connected`);
    conns[name] = {
      up: proxies[name].bytesUp,
      down: proxies[name].bytesDown,
      inMsgs: c.in_msgs,
      inBytes: c.in_bytes,
      outMsgs: c.out_msgs,
      outBytes: c.out_bytes,
    };
  }
  return { conns, varz: await nats.monitor<Varz>('varz') };
}

const minus = (a: Counters, b: Counters): Counters => ({
  up: a.up - b.up,
  down: a.down - b.down,
  inMsgs: a.inMsgs - b.inMsgs,
  inBytes: a.inBytes - b.inBytes,
  outMsgs: a.outMsgs - b.outMsgs,
  outBytes: a.outBytes - b.outBytes,
});

async function realExchanges(root: string): Promise<ExchangeRow[]> {
  const nats = await ConfiguredNatsServer.start('wire', (p) => `listen: 127.0.0.1:${p.client}\nhttp: 127.0.0.1:${p.http}\n`);
  const rows: ExchangeRow[] = [];
  try {
    for (const o of SETTINGS) {
      const flags = ['-startPubREQHello=0', `-serialization=${o.serialization}`, `-compression=${o.compression}`];
      const proxies = { central: await TcpProxy.start(nats.ports.client), ship1: await TcpProxy.start(nats.ports.client) };
      const tag = `${o.serialization}-${o.compression || 'none'}`;
      const nodes = await Promise.all(
        (['central', 'ship1'] as const).map((name) => {
          const dir = path.join(root, `${tag}-${name}`);
          fs.mkdirSync(dir);
          return StewardProcess.start({ name, central: 'central', brokerUrl: proxies[name].url, flags, dir });
        }),
      );
      const [central, ship1] = nodes as [StewardProcess, StewardProcess];
      try {
        await sleep(1000); // let subscriptions and the first pings settle before counting
        const before = await snapshot(nats, proxies);
        const answer = await central.send(JSON.stringify([SEED_EXAMPLE]));
        if (answer[0]?.status !== 'accepted') throw new Error(`not accepted: ${JSON.stringify(answer)}`);
        await eventually(() => central.readData('var', 'cli', 'command_result', 'ship1', 'some-file-name.result'), {
          what: `the reply (${tag})`,
          timeoutMs: 30_000,
        });
        await eventually(() => settled(central, ship1), { what: 'both stores settled', timeoutMs: 30_000 });
        await sleep(500); // the last ACK reaches the broker's counters
        const afterwards = await snapshot(nats, proxies);
        rows.push({
          setting: label(o),
          central: minus(afterwards.conns.central as Counters, before.conns.central as Counters),
          ship1: minus(afterwards.conns.ship1 as Counters, before.conns.ship1 as Counters),
          varz: {
            inMsgs: afterwards.varz.in_msgs - before.varz.in_msgs,
            inBytes: afterwards.varz.in_bytes - before.varz.in_bytes,
            outMsgs: afterwards.varz.out_msgs - before.varz.out_msgs,
            outBytes: afterwards.varz.out_bytes - before.varz.out_bytes,
          },
        });
      } finally {
        await Promise.all(nodes.map((n) => n.stop()));
        await proxies.central.close();
        await proxies.ship1.close();
      }
    }
  } finally {
    await nats.close();
  }
  return rows;
}

function render(enc: Awaited<ReturnType<typeof encodedSizes>>, ex: ExchangeRow[], meta: { date: string; natsVersion: string }): string {
  const t1 = [
    '| serialization, compression | command payload | reply payload, `ls ./` output (17 B) | reply payload, `ps` listing (' +
      Buffer.byteLength(PS_OUTPUT) +
      ' B) | NATS headers (each message) |',
    '|---|---:|---:|---:|---:|',
    ...enc.rows.map((r) => `| ${r.setting} | ${r.command} B | ${r.replySmall} B | ${r.replyPs} B | ${r.commandHeaders} B |`),
  ].join('\n');
  const t2 = [
    '| serialization, compression | central -> broker | broker -> ship1 | ship1 -> broker | broker -> central | total TCP | nats-server /varz in / out bytes (msgs) |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...ex.map(
      (r) =>
        `| ${r.setting} | ${r.central.up} B (${r.central.inBytes}) | ${r.ship1.down} B (${r.ship1.outBytes}) | ${r.ship1.up} B (${r.ship1.inBytes}) | ${r.central.down} B (${r.central.outBytes}) | ${r.central.up + r.central.down + r.ship1.up + r.ship1.down} B | ${r.varz.inBytes} / ${r.varz.outBytes} (${r.varz.inMsgs} / ${r.varz.outMsgs}) |`,
    ),
  ].join('\n');
  return `# Bytes on the wire

Generated by \`npx tsx bench/wire-size.ts --write\` (after \`npm run build\`); do not edit by hand,
run it again. Date: ${meta.date}; nats-server ${meta.natsVersion}; Node ${process.version}.

The typical command is the seed README's first example (\`bash -c "sleep 5 & ls ./"\` on ship1,
reply appended to a file on central), ${enc.inputJson} bytes of JSON as the operator writes it. On the
wire it becomes the whole message as steward sees it: id, nodes, methods, arguments, every
timeout and retry setting, and the timestamps. Its reply carries the command's output and, as
\`previousMessage\`, the request without its data (so the reply is about twice the command plus
the output). Each message travels with a NATS header block naming its encoding
(\`serial\`, and \`cmp\` when compressed); an ACK is a small JSON answer without headers
(${enc.ack} B: \`{"id":"...","status":"ok"}\`).

## Encoded size of one message

Payload bytes from \`encodeMessage\` (src/message/codec.ts), the same code the nodes run:

${t1}

## One real exchange, each way

central sends the example to ship1 once; ship1 runs it and replies. Four NATS messages cross the
broker: the command (central -> ship1), its ACK (ship1 -> central), the reply (ship1 ->
central) and the reply's ACK (central -> ship1). Each node sits behind a TCP proxy that counts
the bytes it really sends and receives (NATS protocol lines, subjects, inbox names, headers,
payloads; hellos are off and the count starts after the connection is idle). In brackets: the
message bytes nats-server itself counts for that connection (\`/connz\` in_bytes or out_bytes:
headers + payloads, no protocol lines). The last column is the server-wide \`/varz\` difference.

${t2}

${summary(enc, ex)}
`;
}

/** The findings, computed from this run's figures so the prose never disagrees with the tables. */
function summary(enc: Awaited<ReturnType<typeof encodedSizes>>, ex: ExchangeRow[]): string {
  const row = <T extends { setting: string }>(rows: T[], s: string): T => {
    const r = rows.find((x) => x.setting === s);
    if (r === undefined) throw new Error(`no row ${s}`);
    return r;
  };
  const total = (r: ExchangeRow): number => r.central.up + r.central.down + r.ship1.up + r.ship1.down;
  const pct = (a: number, b: number): string => `${Math.round((100 * (a - b)) / b)}%`;
  const cbor = row(ex, 'cbor, none');
  const json = row(ex, 'json, none');
  const compressed = ex.filter((r) => !r.setting.endsWith('none')).map(total);
  const e = (s: string): EncodedRow => row(enc.rows, s);
  // Protocol bytes per message: what the proxy saw minus what the server counts as message bytes.
  const gz = total(row(ex, 'cbor, g (gzip)')) + total(row(ex, 'json, g (gzip)'));
  const zs = total(row(ex, 'cbor, z (zstd)')) + total(row(ex, 'json, z (zstd)'));
  const ahead =
    gz === zs
      ? 'a tie here'
      : `${gz < zs ? 'gzip' : 'zstd'} ${Math.abs(gz - zs) / 2} B, ${Math.round((100 * Math.abs(gz - zs)) / Math.max(gz, zs))}%, smaller per exchange here`;
  const overhead = Math.round(
    (cbor.central.up - cbor.central.inBytes + cbor.ship1.up - cbor.ship1.inBytes) / (cbor.central.inMsgs + cbor.ship1.inMsgs),
  );
  return `## What this means

- With the defaults (CBOR, no compression) the command is ${e('cbor, none').command} B of payload and its reply
  ${e('cbor, none').replySmall} B: the reply repeats the request as \`previousMessage\`, so even an empty output
  costs about twice the command. One whole exchange (command, reply, two ACKs) moves
  ${total(cbor)} B of TCP, both nodes and both ways together.
- JSON is ${pct(e('json, none').command, e('cbor, none').command)} larger than CBOR for the command and the exchange costs
  ${pct(total(json), total(cbor))} more, uncompressed. Once compressed the two serializations are within a few bytes.
- Compression pays even at this size: gzip or zstd brings the exchange to ${Math.min(...compressed)}-${Math.max(...compressed)} B
  (at least ${Math.round(100 * (1 - Math.max(...compressed) / total(cbor)))}% less than CBOR uncompressed). gzip and zstd are close on
  messages this small (${ahead}); with the ${Buffer.byteLength(PS_OUTPUT)} B listing the reply
  shrinks from ${e('cbor, none').replyPs} B to ${e('cbor, g (gzip)').replyPs} B (gzip) or ${e('cbor, z (zstd)').replyPs} B (zstd).
- The NATS protocol around each message (the \`HPUB\`/\`HMSG\` line with the subject, e.g.
  \`ship1.REQCliCommand.CommandACK\`, and the ACK inbox \`_INBOX.central.<nuid>.<n>\`) adds about
  ${overhead} B per message on top of the header block and payload; an ACK (${enc.ack} B) is about ${enc.ack + overhead} B on the wire.
- The receiver decodes whatever each sender chose (\`serial\`/\`cmp\` headers), so a node on a
  slow or metered link can turn on \`-compression=g\` or \`-compression=z\` alone; see
  \`test/e2e/wire-mix.test.ts\`.
`;
}

async function main(): Promise<void> {
  const write = process.argv.includes('--write');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'steward-wire-'));
  try {
    const enc = await encodedSizes();
    const ex = await realExchanges(root);
    const { execFileSync } = await import('node:child_process');
    const bin = fs.existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server';
    const natsVersion = execFileSync(bin, ['--version'], { encoding: 'utf8' })
      .trim()
      .replace(/^nats-server: /, '');
    const doc = render(enc, ex, { date: new Date().toISOString().slice(0, 10), natsVersion });
    process.stdout.write(doc);
    if (write) fs.writeFileSync(path.join(ROOT, 'docs', 'wire.md'), doc);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

// Run when invoked as a script; B7 (bench/b7-wire.ts) imports the settings and types.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) await main();
