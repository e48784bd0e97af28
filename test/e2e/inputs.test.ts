import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePorts } from '../support/ports.js';
import { eventually } from '../support/eventually.js';
import { NatsServer } from '../support/nats-server.js';
import { sendToTcp, STEWARD_BIN, StewardProcess, type InputLine } from '../support/steward.js';

/** The operator token of the node under test (its etc/token, made at its first start). */
let token = '';

/** Sends the token line and `input` over TCP, half-closes, and returns the answer lines. */
function sendTcp(port: number, input: string): Promise<InputLine[]> {
  return sendToTcp(port, `${token}\n${input}`);
}

/** Raw HTTP request to /messages with the token (JSON unless said); returns status, content-type and body. */
function request(
  port: number,
  method: string,
  body?: string,
  extra: Record<string, string> = {},
): Promise<{ status: number; type: string; body: string }> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...extra };
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: '/messages', headers }, (res) => {
      let out = '';
      res.on('data', (b: Buffer) => (out += b.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'] ?? '', body: out }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body === undefined) req.end();
    else if (headers['content-length'] !== undefined)
      req.write(body); // announces more than it sends
    else req.end(body);
  });
}

/**
 * The TCP listener, the HTTP listener and the watched folder of a real central node: each
 * answers per message, delivers the good messages (their output lands on central) and keeps
 * the bad ones out.
 */
describe('TCP, HTTP and folder inputs', () => {
  let nats: NatsServer;
  let central: StewardProcess;
  let ship1: StewardProcess;
  let tcpPort = 0;
  let httpPort = 0;
  let inbox = '';
  let tagNo = 0;

  const newTag = (what: string): string => `${what}-${++tagNo}`;
  const good = (tag: string): Record<string, unknown> => ({
    toNode: 'ship1',
    method: 'REQCliCommand',
    methodArgs: ['echo', tag],
    directory: 'inputs',
    fileName: `${tag}.txt`,
  });
  const bad = (tag: string): Record<string, unknown> => ({ ...good(tag), method: 'REQnCliCommand' });
  const resultOf = (tag: string): Promise<string> =>
    eventually(() => central.readData('inputs', 'ship1', `${tag}.txt`), { what: `the result of ${tag}`, timeoutMs: 30_000 });
  /** Writes a message file into the watched folder the safe way: a dot-file renamed into place. */
  const drop = (name: string, content: string): void => {
    fs.writeFileSync(path.join(inbox, `.${name}.part`), content);
    fs.renameSync(path.join(inbox, `.${name}.part`), path.join(inbox, name));
  };
  const atStartGood = newTag('at-start-good');
  const atStartBad = newTag('at-start-bad');

  before(async () => {
    nats = await NatsServer.start();
    [tcpPort = 0, httpPort = 0] = await freePorts(2);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'steward-central-'));
    inbox = path.join(dir, 'inbox');
    fs.mkdirSync(inbox);
    // Files already in the folder before the node starts are handled too.
    fs.writeFileSync(path.join(inbox, 'start-good.json'), JSON.stringify([good(atStartGood)]));
    fs.writeFileSync(
      path.join(inbox, 'start-bad.yaml'),
      `- toNode: ship1\n  method: REQnCliCommand\n  methodArgs: [echo, ${atStartBad}]\n`,
    );
    const common = { central: 'central', brokerUrl: `127.0.0.1:${nats.port}` };
    // Made first, started together: should one not start, after() still stops the other.
    central = new StewardProcess({
      name: 'central',
      dir,
      ...common,
      flags: ['-startPubREQHello=0', `-tcpListener=127.0.0.1:${tcpPort}`, `-httpListener=127.0.0.1:${httpPort}`, '-readFolder=./inbox'],
    });
    ship1 = new StewardProcess({ name: 'ship1', ...common, flags: ['-startPubREQHello=0'] });
    await Promise.all([central.start(), ship1.start()]);
    token = fs.readFileSync(path.join(dir, 'etc', 'token'), 'utf8').trim();
  });

  after(async () => {
    await Promise.all([central, ship1].map((n) => n?.stop()));
    await nats?.close();
    for (const n of [central, ship1]) n?.cleanup();
  });

  it('TCP: answers each message of one write and delivers the good ones', async () => {
    const a = newTag('tcp-a');
    const b = newTag('tcp-b');
    const c = newTag('tcp-c');
    const lines = await sendTcp(tcpPort, JSON.stringify([good(a), bad(b), good(c)]));
    assert.deepEqual(
      lines.map((l) => [l.status, l.index]),
      [
        ['accepted', 0],
        ['error', 1],
        ['accepted', 2],
      ],
    );
    assert.equal(lines[0]?.subject, 'ship1.REQCliCommand.CommandACK');
    assert.match(lines[1]?.error ?? '', /unknown method "REQnCliCommand" \(did you mean "REQCliCommand"\?\)/);
    assert.equal(await resultOf(a), `${a}\n`);
    assert.equal(await resultOf(c), `${c}\n`);
  });

  it('TCP: an input over the cap gets its error line also by a client that reads only after writing everything', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const conn = net.connect(tcpPort, '127.0.0.1');
      let out = '';
      conn.on('data', (b: Buffer) => (out += b.toString()));
      conn.on('error', reject);
      conn.on('close', () => resolve(out));
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      conn.write(`${token}\n`);
      void (async () => {
        for (let i = 0; i < 257 && !conn.destroyed; i++) if (!conn.write(chunk)) await new Promise((r) => conn.once('drain', r));
        conn.end();
      })();
    });
    const lines = answer
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as InputLine);
    assert.equal(lines.length, 1);
    assert.equal(lines[0]?.status, 'error');
    assert.match(lines[0]?.error ?? '', /input larger than \d+ bytes: split it into several writes/);
    const tag = newTag('after-cap');
    assert.equal((await sendTcp(tcpPort, JSON.stringify(good(tag))))[0]?.status, 'accepted');
    assert.equal(await resultOf(tag), `${tag}\n`);
  });

  it('HTTP: a POST with a good message answers 202 with the results and delivers it', async () => {
    const a = newTag('http-a');
    const b = newTag('http-b');
    const res = await request(httpPort, 'POST', JSON.stringify([good(a), bad(b)]), { 'content-type': 'application/json' });
    assert.equal(res.status, 202, res.body);
    assert.equal(res.type, 'application/json');
    const results = JSON.parse(res.body) as InputLine[];
    assert.deepEqual(
      results.map((r) => r.status),
      ['accepted', 'error'],
    );
    assert.match(results[1]?.error ?? '', /did you mean "REQCliCommand"/);
    assert.equal(await resultOf(a), `${a}\n`);
  });

  it('HTTP: YAML is accepted too', async () => {
    const a = newTag('http-yaml');
    const res = await request(
      httpPort,
      'POST',
      `toNode: ship1\nmethod: REQCliCommand\nmethodArgs: [echo, ${a}]\ndirectory: inputs\nfileName: ${a}.txt\n`,
      { 'content-type': 'application/yaml' },
    );
    assert.equal(res.status, 202, res.body);
    assert.equal(await resultOf(a), `${a}\n`);
  });

  it('HTTP: a POST with no good message answers 400 with the errors', async () => {
    const res = await request(httpPort, 'POST', JSON.stringify([bad(newTag('http-bad')), { toNode: 'ship1' }]));
    assert.equal(res.status, 400, res.body);
    assert.equal(res.type, 'application/json');
    const results = JSON.parse(res.body) as InputLine[];
    assert.deepEqual(
      results.map((r) => [r.status, r.index]),
      [
        ['error', 0],
        ['error', 1],
      ],
    );
    assert.match(results[0]?.error ?? '', /did you mean "REQCliCommand"/);
  });

  it('HTTP: other methods get 405 and an input over the cap gets 413', async () => {
    const get = await request(httpPort, 'GET');
    assert.equal(get.status, 405);
    assert.equal(get.type, 'application/json');
    assert.match(get.body, /POST a message document/);
    const big = await request(httpPort, 'POST', '[', { 'content-length': String(300 * 1024 * 1024) });
    assert.equal(big.status, 413);
    assert.match(big.body, /input larger than \d+ bytes/);
    assert.ok(central.running);
  });

  /** A client that writes its whole request (`size` bytes of body) before it reads the answer. */
  const sendAllThenRead = (method: string, size: number): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const conn = net.connect(httpPort, '127.0.0.1');
      let raw = '';
      conn.on('data', (b: Buffer) => (raw += b.toString('latin1')));
      conn.on('error', reject);
      conn.on('close', () => {
        const m = /^HTTP\/1\.1 (\d{3})[^]*?\r\n\r\n([^]*)$/.exec(raw);
        if (m === null) reject(new Error(`no HTTP answer: ${JSON.stringify(raw.slice(0, 200))}`));
        else resolve({ status: Number(m[1]), body: m[2] ?? '' });
      });
      conn.write(
        `${method} /messages HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: ${size}\r\n\r\n`,
      );
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      void (async () => {
        for (let sent = 0; sent < size && !conn.destroyed; sent += chunk.length) {
          if (!conn.write(sent + chunk.length <= size ? chunk : chunk.subarray(0, size - sent)))
            await new Promise((r) => conn.once('drain', r));
        }
      })();
    });

  it('HTTP: pipelined requests are answered in order, also when the second gets an early 405', async () => {
    const tag = newTag('pipelined');
    const post = JSON.stringify(good(tag));
    const raw = await new Promise<string>((resolve, reject) => {
      const conn = net.connect(httpPort, '127.0.0.1');
      let out = '';
      conn.on('data', (b: Buffer) => (out += b.toString('latin1')));
      conn.on('error', reject);
      conn.on('close', () => resolve(out));
      conn.write(
        `POST /messages HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(post)}\r\n\r\n${post}` +
          'PUT /messages HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\nhello',
      );
    });
    const statuses = [...raw.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]);
    assert.deepEqual(statuses, ['202', '405'], raw.slice(0, 500));
    assert.equal(await resultOf(tag), `${tag}\n`);
  });

  /** Writes raw bytes to the HTTP port and returns everything read until the server closes. */
  const rawHttp = (bytes: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const conn = net.connect(httpPort, '127.0.0.1');
      let out = '';
      conn.on('data', (b: Buffer) => (out += b.toString('latin1')));
      conn.on('error', reject);
      conn.on('close', () => resolve(out));
      conn.write(bytes);
    });
  const statusLines = (raw: string): string[] => [...raw.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1] ?? '');

  it('HTTP: a GET carrying an unframed body gets its 405 and nothing after it on the closed connection', async () => {
    // Node's own client sends a GET body this way: no content-length, no chunking. The bytes
    // after the headers then read as a second, malformed request on a connection already answered.
    const raw = await rawHttp('GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n[{"toNode":"ship1"}] and more');
    assert.deepEqual(statusLines(raw), ['405'], raw.slice(0, 500));
    assert.match(raw, /connection: close/i);
    assert.ok(central.running);
  });

  it('HTTP: a malformed request gets a 400 whose JSON body says what was wrong', async () => {
    const raw = await rawHttp('this is not http\r\n\r\n');
    assert.deepEqual(statusLines(raw), ['400'], raw.slice(0, 500));
    const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
    const lines = JSON.parse(body) as { status: string; error: string }[];
    assert.equal(lines[0]?.status, 'error');
    assert.match(lines[0]?.error ?? '', /malformed HTTP request/);
    // A body that breaks off inside a POST already being read: the error is its answer.
    const chunked = await rawHttp(
      `POST /messages HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n`,
    );
    assert.deepEqual(statusLines(chunked), ['400'], chunked.slice(0, 500));
    assert.match(chunked, /malformed HTTP request: Invalid character in chunk size/);
  });

  it('HTTP: garbage pipelined behind a good POST gets its 400 after the 202, and the good message is delivered', async () => {
    const tag = newTag('before-garbage');
    const post = JSON.stringify(good(tag));
    const raw = await rawHttp(
      `POST /messages HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(post)}\r\n\r\n${post}\u0001\u0002 not a request\r\n\r\n`,
    );
    assert.deepEqual(statusLines(raw), ['202', '400'], raw.slice(0, 800));
    assert.equal(await resultOf(tag), `${tag}\n`);
  });

  it('HTTP: a PUT with a 20 MB body gets its 405 also by a client that reads the answer only after sending everything', async () => {
    const answer = await sendAllThenRead('PUT', 20 * 1024 * 1024);
    assert.equal(answer.status, 405);
    assert.match(answer.body, /method PUT not allowed: POST a message document/);
  });

  it('HTTP: a body over the cap gets its 413 also by a client that reads the answer only after sending everything', async () => {
    const answer = await sendAllThenRead('POST', 257 * 1024 * 1024);
    assert.equal(answer.status, 413);
    assert.match(answer.body, /input larger than \d+ bytes: split it into several requests/);
    const tag = newTag('after-413');
    const ok = await request(httpPort, 'POST', JSON.stringify(good(tag)));
    assert.equal(ok.status, 202);
    assert.equal(await resultOf(tag), `${tag}\n`);
  });

  it('HTTP: a document nested 3,000,000 levels deep gets an error, and the good messages around it and sent meanwhile are delivered', async () => {
    const [a, b, c] = [newTag('deep-a'), newTag('deep-b'), newTag('deep-c')];
    const deep = '['.repeat(3_000_000) + ']'.repeat(3_000_000);
    const [answer, meanwhile] = await Promise.all([
      request(httpPort, 'POST', `[${JSON.stringify(good(a))},${deep},${JSON.stringify(good(b))}]`),
      sendTcp(tcpPort, JSON.stringify(good(c))),
    ]);
    assert.equal(answer.status, 202);
    const lines = JSON.parse(answer.body) as InputLine[];
    assert.deepEqual(
      lines.map((l) => [l.status, l.index]),
      [
        ['accepted', 0],
        ['error', 1],
        ['accepted', 2],
      ],
    );
    assert.match(lines[1]?.error ?? '', /message 1: expected an object with toNode and method, got an array/);
    assert.equal(meanwhile[0]?.status, 'accepted');
    for (const tag of [a, b, c]) assert.equal(await resultOf(tag), `${tag}\n`);
    assert.ok(central.running);
  });

  it('folder: files present at start are handled (the good one delivered and removed, the bad one moved aside)', async () => {
    assert.equal(await resultOf(atStartGood), `${atStartGood}\n`);
    await eventually(() => !fs.existsSync(path.join(inbox, 'start-good.json')), { what: 'start-good.json removed' });
    const error = await eventually(
      () =>
        fs.existsSync(path.join(inbox, 'failed', 'start-bad.yaml.error')) &&
        fs.readFileSync(path.join(inbox, 'failed', 'start-bad.yaml.error'), 'utf8'),
      {
        what: 'start-bad.yaml.error',
      },
    );
    assert.match(error, /did you mean "REQCliCommand"/);
    assert.ok(fs.existsSync(path.join(inbox, 'failed', 'start-bad.yaml')));
    assert.ok(!fs.existsSync(path.join(inbox, 'start-bad.yaml')));
  });

  it('folder: a message file is handled once and removed; dot and .tmp files are left alone', async () => {
    const a = newTag('folder-a');
    const ignored = newTag('folder-ignored');
    fs.writeFileSync(path.join(inbox, 'later.tmp'), JSON.stringify([good(ignored)]));
    fs.writeFileSync(path.join(inbox, '.hidden.json'), JSON.stringify([good(ignored)]));
    drop('a.json', JSON.stringify([good(a)]));
    assert.equal(await resultOf(a), `${a}\n`);
    await eventually(() => !fs.existsSync(path.join(inbox, 'a.json')), { what: 'a.json removed' });
    // A later file goes through the same folder: once it is delivered, a second handling of
    // a.json would have appended its output again.
    const marker = newTag('folder-marker');
    drop('marker.json', JSON.stringify(good(marker)));
    assert.equal(await resultOf(marker), `${marker}\n`);
    assert.equal(central.readData('inputs', 'ship1', `${a}.txt`), `${a}\n`);
    assert.ok(fs.existsSync(path.join(inbox, 'later.tmp')));
    assert.ok(fs.existsSync(path.join(inbox, '.hidden.json')));
    assert.equal(central.readData('inputs', 'ship1', `${ignored}.txt`), '');
  });

  it('folder: a file with no good message is moved to failed/ with its .error', async () => {
    const name = 'broken.json';
    drop(name, '[{"toNode":"ship1","method":"REQCliCommand,"methodArgs":["echo"]}]');
    const errorFile = path.join(inbox, 'failed', `${name}.error`);
    const error = await eventually(() => fs.existsSync(errorFile) && fs.readFileSync(errorFile, 'utf8'), { what: `${name}.error` });
    assert.match(error, /malformed/);
    assert.equal(
      fs.readFileSync(path.join(inbox, 'failed', name), 'utf8'),
      '[{"toNode":"ship1","method":"REQCliCommand,"methodArgs":["echo"]}]',
    );
    assert.ok(!fs.existsSync(path.join(inbox, name)));
    assert.ok(central.running);
  });
});

describe('a listener that cannot bind', () => {
  it('stops the node at start with a clear error', async () => {
    const nats = await NatsServer.start();
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as net.AddressInfo).port;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'steward-bind-'));
    try {
      const proc = spawn(
        STEWARD_BIN,
        ['-nodeName=central', '-centralNodeName=central', `-brokerAddress=127.0.0.1:${nats.port}`, `-tcpListener=127.0.0.1:${port}`],
        {
          cwd: dir,
          env: { ...process.env, CONFIG_FOLDER: './etc/' },
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      let stderr = '';
      proc.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      const code = await new Promise<number | null>((r) => proc.once('exit', r));
      assert.equal(code, 1, stderr);
      assert.match(stderr, new RegExp(`-tcpListener 127\\.0\\.0\\.1:${port}: cannot listen: the address is already in use`));
    } finally {
      blocker.close();
      await nats.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
