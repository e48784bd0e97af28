import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../support/eventually.js';
import { startFleet, type Fleet } from '../support/fleet.js';
import { cookiePair, httpRequest, type HttpAnswer } from '../support/http-client.js';
import { makeCA, issueCert } from '../support/pki.js';
import { freePorts } from '../support/ports.js';
import { StewardProcess } from '../support/steward.js';

/**
 * The web console's API and the data folder over HTTP, without a browser, against a real
 * central and ship: nothing without a session or the token, CSRF and same-site checks on every
 * change, the audit log, and the data folder's walls (traversal, symlinks) and ranges.
 */
describe('the web console API and the data folder', () => {
  let fleet: Fleet;
  let central: StewardProcess;
  let web: number;
  let data: number;
  let token: string;
  let cookie: string;
  let csrf: string;
  const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'steward-outside-'));
  const audit = (): { outcome: string; from?: string; ok?: string; action?: string }[] =>
    fs
      .readFileSync(path.join(central.dir, 'var', 'lib', 'audit.log'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { outcome: string });
  const get = (p: string, headers: Record<string, string> = {}): Promise<HttpAnswer> => httpRequest(web, 'GET', p, { headers });
  const post = (p: string, body: unknown, headers: Record<string, string> = {}): Promise<HttpAnswer> =>
    httpRequest(web, 'POST', p, { headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const jobs = async (): Promise<{ id: string }[]> =>
    (JSON.parse((await get('/api/jobs', { cookie })).body) as { jobs: { id: string }[] }).jobs;

  before(async () => {
    [web, data] = (await freePorts(2)) as [number, number];
    fleet = await startFleet(['central', 'ship1'], {
      flags: ['-startPubREQHello=1'],
      flagsFor: { central: [`-webListener=127.0.0.1:${web}`, `-exposeDataFolder=127.0.0.1:${data}`], ship1: ['-labels=role=ship'] },
    });
    central = fleet.nodes[0] as StewardProcess;
    token = fs.readFileSync(path.join(central.dir, 'etc', 'token'), 'utf8').trim();
    fs.writeFileSync(path.join(outside, 'secret.txt'), 'outside the data folder\n');
    await eventually(() => central.stderr.includes('"msg":"web console listening"'), { what: 'the console to listen' });
  });

  after(async () => {
    await fleet?.close();
    fs.rmSync(outside, { recursive: true, force: true });
  });

  it('answers 401 and no data on every API path and on the data folder without a session or the token', async () => {
    const reads = [
      '/api/session',
      '/api/nodes',
      '/api/nodes/ship1',
      '/api/queue',
      '/api/jobs',
      '/api/jobs/x',
      '/api/keys',
      '/api/errors',
      '/api/events',
    ];
    for (const p of reads) {
      const r = await get(p);
      assert.equal(r.status, 401, p);
      assert.deepEqual(Object.keys(JSON.parse(r.body) as object), ['error'], p);
      assert.doesNotMatch(r.body, /ship1|central/, p);
    }
    const changes = ['/api/send', '/api/cancel', '/api/jobs/x/cancel', '/api/jobs/x/retry', '/api/keys/ship1/revoke'];
    for (const p of changes)
      assert.equal((await post(p, [{ toNode: 'ship1', method: 'REQCliCommand', methodArgs: ['true'] }])).status, 401, p);
    assert.equal((await get('/api/nodes', { authorization: 'Bearer wrong-token-wrong-token' })).status, 401);
    assert.equal((await get('/api/nodes', { cookie: 'steward_central=forged.1.forged' })).status, 401);
    const page = await get('/');
    assert.equal(page.status, 303);
    assert.equal(page.headers.location, '/login');
    for (const p of ['/', '/x/central/', '/hello-messages/']) assert.equal((await httpRequest(data, 'GET', p)).status, 401, p);
    // The login page itself: one password field, the strict policy.
    const login = await get('/login');
    assert.equal(login.status, 200);
    assert.match(login.body, /<input id="token" name="token" type="password"/);
    assert.doesNotMatch(login.body, /<script/);
    assert.match(String(login.headers['content-security-policy']), /script-src 'self'; style-src 'self'/);
  });

  it('refuses a wrong token at the login and logs both tries with their address in the audit log', async () => {
    const wrong = await post('/login', { token: 'not-the-token-at-all' });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers['set-cookie'], undefined);
    const form = await httpRequest(web, 'POST', '/login', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `token=${encodeURIComponent(token)}`,
    });
    assert.equal(form.status, 303);
    assert.equal(form.headers.location, '/');
    const set = String(form.headers['set-cookie']?.[0]);
    assert.match(set, /^steward_central=[^;]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200$/);
    cookie = cookiePair(form.headers);
    const s = JSON.parse((await get('/api/session', { cookie })).body) as { node: string; csrf: string };
    assert.equal(s.node, 'central');
    csrf = s.csrf;
    await eventually(() => audit().some((l) => l.outcome === 'web-login' && l.ok === 'true' && l.from === '127.0.0.1'), {
      what: 'the login in the audit log',
    });
    assert.ok(audit().some((l) => l.outcome === 'web-login' && l.ok === 'false' && l.from === '127.0.0.1'));
    // The session reads: the ship is listed with its labels and key state.
    await eventually(async () => (await get('/api/nodes', { cookie })).body.includes('"node":"ship1"'), { what: 'ship1 in /api/nodes' });
    const nodes = JSON.parse((await get('/api/nodes', { cookie })).body) as { nodes: { node: string; key: string; labels: object }[] };
    assert.deepEqual(
      nodes.nodes.find((n) => n.node === 'ship1'),
      { ...nodes.nodes.find((n) => n.node === 'ship1'), key: 'pinned', labels: { role: 'ship' } },
    );
  });

  it('refuses a change without the CSRF token, or from another site, and sends nothing', async () => {
    const msg = [
      { toNodes: ['ship1', 'central'], method: 'REQCliCommand', methodArgs: ['echo', 'csrf'], directory: 'csrf', fileName: 'o.txt' },
    ];
    const before = (await jobs()).length;
    const none = await post('/api/send', msg, { cookie });
    assert.equal(none.status, 403);
    assert.match(none.body, /CSRF/);
    const wrong = await post('/api/send', msg, { cookie, 'x-csrf-token': 'x'.repeat(43) });
    assert.equal(wrong.status, 403);
    const cross = await post('/api/send', msg, { cookie, 'x-csrf-token': csrf, origin: 'http://evil.example' });
    assert.equal(cross.status, 403);
    assert.match(cross.body, /cross-site/);
    const fetchSite = await post('/api/send', msg, { cookie, 'x-csrf-token': csrf, 'sec-fetch-site': 'cross-site' });
    assert.equal(fetchSite.status, 403);
    const bearerCross = await post('/api/send', msg, { authorization: `Bearer ${token}`, origin: 'http://evil.example' });
    assert.equal(bearerCross.status, 403);
    const loginCross = await post('/login', { token }, { origin: 'http://evil.example' });
    assert.equal(loginCross.status, 403);
    assert.equal((await jobs()).length, before);
    // The same request from the console's page, with its token, goes.
    const ok = await post('/api/send', msg, {
      cookie,
      'x-csrf-token': csrf,
      origin: `http://127.0.0.1:${web}`,
      'sec-fetch-site': 'same-origin',
    });
    assert.equal(ok.status, 200, ok.body);
    const job = (JSON.parse(ok.body) as { results: { job: string }[] }).results[0]?.job as string;
    assert.ok(job);
    await eventually(
      async () => (JSON.parse((await get(`/api/jobs/${job}`, { cookie })).body) as { job: { state: string } }).job.state === 'done',
      {
        what: 'the job sent from the console to end',
      },
    );
    const view = JSON.parse((await get(`/api/jobs/${job}`, { cookie })).body) as {
      targets: { node: string; state: string; output: string }[];
    };
    assert.deepEqual(
      view.targets.map((t) => [t.node, t.state, t.output]),
      [
        ['central', 'ok', 'csrf\n'],
        ['ship1', 'ok', 'csrf\n'],
      ],
    );
    await eventually(() => audit().some((l) => l.outcome === 'web-send' && l.action === 'send' && l.from === '127.0.0.1'), {
      what: 'the send in the audit log',
    });
  });

  it('serves the data folder read-only: listings, ranges, and nothing outside it, through no symlink', async () => {
    const auth = { authorization: `Bearer ${token}` };
    const dir = path.join(central.dataDir, 'csrf', 'ship1');
    await eventually(() => fs.existsSync(path.join(dir, 'o.txt')), { what: 'the result file' });
    fs.writeFileSync(path.join(dir, 'digits.txt'), '0123456789');
    fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(dir, 'link.txt'));
    fs.symlinkSync(outside, path.join(central.dataDir, 'linkdir'));
    const list = JSON.parse((await httpRequest(data, 'GET', '/csrf/ship1/?format=json', { headers: auth })).body) as {
      entries: { name: string; type: string }[];
    };
    assert.deepEqual(
      list.entries.map((e) => [e.name, e.type]),
      [
        ['digits.txt', 'file'],
        ['link.txt', 'symlink'],
        ['o.txt', 'file'],
      ],
    );
    const html = await httpRequest(data, 'GET', '/csrf/ship1/', { headers: auth });
    assert.match(html.body, /<a href="o.txt">o.txt<\/a>/);
    assert.match(html.body, /link.txt \(symlink, not served\)/);
    const whole = await httpRequest(data, 'GET', '/csrf/ship1/o.txt', { headers: { cookie } }); // the console's session works here too
    assert.equal(whole.status, 200);
    assert.equal(whole.body, 'csrf\n');
    assert.equal(whole.headers['content-type'], 'text/plain; charset=utf-8');
    const range = await httpRequest(data, 'GET', '/csrf/ship1/digits.txt', { headers: { ...auth, range: 'bytes=2-5' } });
    assert.equal(range.status, 206);
    assert.equal(range.body, '2345');
    assert.equal(range.headers['content-range'], 'bytes 2-5/10');
    const suffix = await httpRequest(data, 'GET', '/csrf/ship1/digits.txt', { headers: { ...auth, range: 'bytes=-3' } });
    assert.equal(suffix.body, '789');
    assert.equal((await httpRequest(data, 'GET', '/csrf/ship1/digits.txt', { headers: { ...auth, range: 'bytes=20-' } })).status, 416);
    const attacks = [
      '/../../../../etc/passwd',
      '/csrf/../../etc/passwd',
      '/%2e%2e/%2e%2e/etc/passwd',
      '/csrf/%2E%2E/%2E%2E/%2E%2E/etc/passwd',
      '/..%2f..%2fetc%2fpasswd',
      '//etc/passwd',
      `/${outside}/secret.txt`,
      '/csrf/ship1/link.txt',
      '/linkdir/secret.txt',
      '/linkdir/',
    ];
    for (const p of attacks) {
      const r = await httpRequest(data, 'GET', p, { headers: auth });
      assert.ok([400, 403, 404].includes(r.status), `${p}: ${r.status}`);
      assert.doesNotMatch(r.body, /root:|outside the data folder\n/, p);
    }
    assert.equal((await httpRequest(data, 'POST', '/csrf/ship1/o.txt', { headers: auth, body: 'x' })).status, 405);
    assert.match(
      String((await httpRequest(data, 'GET', '/csrf/ship1/o.txt', { headers: auth })).headers['content-security-policy']),
      /sandbox/,
    );
  });

  it('cancels a pending message and revokes a key through the API, each in the audit log', async () => {
    const msg = [{ toNode: 'ghost1', method: 'REQCliCommand', methodArgs: ['true'], ACKTimeout: 5, retries: -1 }];
    const h = { cookie, 'x-csrf-token': csrf };
    const sent = JSON.parse((await post('/api/send', msg, h)).body) as { results: { id: string }[] };
    const id = sent.results[0]?.id as string;
    await eventually(async () => (await get('/api/queue', { cookie })).body.includes(id), { what: 'the message in the queue' });
    const cancelled = JSON.parse((await post('/api/cancel', { ids: [id] }, h)).body) as { results: { id: string; cancelled: boolean }[] };
    assert.deepEqual(cancelled.results, [{ id, cancelled: true, state: 'cancelled' }]);
    assert.equal((await post('/api/keys/ship1/revoke', {}, h)).status, 200);
    const keys = JSON.parse((await get('/api/keys', { cookie })).body) as { keys: { name: string; state: string }[] };
    assert.equal(keys.keys.find((k) => k.name === 'ship1')?.state, 'revoked');
    await eventually(() => ['cancel', 'keys-revoke'].every((a) => audit().some((l) => l.outcome === 'web-send' && l.action === a)), {
      what: 'the cancel and the revoke in the audit log',
    });
  });

  it('stops a node at start with a line naming -webListener when its address is taken', async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as net.AddressInfo).port;
    const other = new StewardProcess({
      name: 'other',
      central: 'central',
      brokerUrl: `127.0.0.1:${fleet.nats.port}`,
      flags: [`-webListener=127.0.0.1:${port}`],
    });
    try {
      await assert.rejects(other.start(), /-webListener 127\.0\.0\.1:\d+: cannot listen: the address is already in use/);
      assert.equal(other.exit?.code, 1);
    } finally {
      await other.kill9();
      other.cleanup();
      await new Promise((r) => taken.close(r));
    }
  });

  it('ends a request whose body trickles in: the connection does not stay open', async () => {
    const s = net.connect(web, '127.0.0.1');
    const closed = new Promise<string>((resolve) => {
      let text = '';
      s.setEncoding('utf8');
      s.on('data', (t: string) => (text += t));
      s.on('close', () => resolve(text));
      s.on('error', () => undefined);
    });
    s.write('POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n{"tok');
    const drip = setInterval(() => s.write('x'), 2_000);
    try {
      // Node's requestTimeout answers 408 and closes; before, the connection stayed open for as long as bytes came.
      const answer = await Promise.race([closed, new Promise<string>((r) => setTimeout(() => r('still open'), 60_000))]);
      assert.match(answer, /^HTTP\/1\.1 408/);
    } finally {
      clearInterval(drip);
      s.destroy();
    }
  });

  it('refuses further logins from an address after 10 wrong tokens in a minute, even the right one, through the login page or the API', async () => {
    // Half the guesses through the login page, half as Authorization: Bearer on the API: one limit.
    for (let i = 0; i < 5; i++) assert.equal((await post('/login', { token: `wrong-${i}-xxxxxxxxxxxxxxxx` })).status, 401);
    for (let i = 5; i < 10; i++)
      assert.equal((await get('/api/nodes', { authorization: `Bearer wrong-${i}-xxxxxxxxxxxxxxxx` })).status, 401);
    const limited = await post('/login', { token });
    assert.equal(limited.status, 429);
    assert.equal(limited.headers['set-cookie'], undefined);
    assert.equal((await get('/api/nodes', { authorization: `Bearer ${token}` })).status, 401, 'the right token as Bearer, while limited');
    // A session already open goes on.
    assert.equal((await get('/api/nodes', { cookie })).status, 200);
  });
});

describe('the web console over HTTPS', () => {
  let fleet: Fleet;
  const pki = fs.mkdtempSync(path.join(os.tmpdir(), 'steward-web-pki-'));
  let ca: string;
  let web: number;
  let data: number;
  const tls = (port: number, method: string, p: string, headers: Record<string, string>, body?: string): Promise<HttpAnswer> =>
    new Promise((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port, method, path: p, headers, ca }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (s: string) => (text += s));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      });
      req.on('error', reject);
      req.end(body);
    });

  before(async () => {
    const authority = makeCA(pki, 'web-ca');
    const server = issueCert(pki, authority, 'web', 'server');
    ca = fs.readFileSync(authority.cert, 'utf8');
    [web, data] = (await freePorts(2)) as [number, number];
    fleet = await startFleet(['central'], {
      flags: [
        `-webListener=127.0.0.1:${web}`,
        `-exposeDataFolder=127.0.0.1:${data}`,
        `-webTLSCertPath=${server.cert}`,
        `-webTLSKeyPath=${server.key}`,
      ],
    });
  });

  after(async () => {
    await fleet?.close();
    fs.rmSync(pki, { recursive: true, force: true });
  });

  it('serves the console and the data folder over TLS, with a Secure cookie, and no plain HTTP', async () => {
    const central = fleet.nodes[0] as StewardProcess;
    const token = fs.readFileSync(path.join(central.dir, 'etc', 'token'), 'utf8').trim();
    const login = await tls(web, 'POST', '/login', { 'content-type': 'application/json' }, JSON.stringify({ token }));
    assert.equal(login.status, 200);
    assert.match(String(login.headers['set-cookie']?.[0]), /; HttpOnly; SameSite=Strict; Max-Age=43200; Secure$/);
    const cookie = cookiePair(login.headers);
    const s = await tls(web, 'GET', '/api/session', { cookie });
    assert.equal((JSON.parse(s.body) as { dataFolder: { tls: boolean } }).dataFolder.tls, true);
    assert.equal((await tls(data, 'GET', '/?format=json', { cookie })).status, 200);
    assert.equal((await tls(data, 'GET', '/', {})).status, 401);
    await assert.rejects(httpRequest(web, 'GET', '/api/session', { headers: { cookie } }));
  });
});
