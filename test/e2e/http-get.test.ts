import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../support/eventually.js';
import { startFleet, type Fleet } from '../support/fleet.js';
import type { StewardProcess } from '../support/steward.js';

/**
 * REQHttpGet through a real broker: ship1 GETs from a web server run by the test, and the body
 * or the error comes back to central.
 */
describe('REQHttpGet', () => {
  let fleet: Fleet;
  let central: StewardProcess;
  let web: http.Server;
  let base = '';
  const page = `<html><body>steward http get ${process.pid}</body></html>\n`;
  let tagNo = 0;
  const newTag = (what: string): string => `${what}-${++tagNo}`;

  before(async () => {
    web = http.createServer((req, res) => {
      const route = (req.url ?? '').split('?')[0];
      if (route === '/page') {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end(page);
      } else if (route === '/big') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('x'.repeat(2 * 1024 * 1024)); // over the broker's default 1 MB max payload
      } else if (route === '/slow') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('partial'); // and never ends
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not here');
      }
    });
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(web.address() as net.AddressInfo).port}`;
    fleet = await startFleet(['central', 'ship1'], { flags: ['-startPubREQHello=0'] });
    central = fleet.nodes[0] as StewardProcess;
  });

  after(async () => {
    await fleet?.close();
    web?.closeAllConnections();
    web?.close();
  });

  const get = (url: string, tag: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    toNode: 'ship1',
    method: 'REQHttpGet',
    methodArgs: [url],
    replyMethod: 'REQToFile',
    directory: 'web',
    fileName: `${tag}.html`,
    methodTimeout: 5,
    ...extra,
  });

  async function send(msg: Record<string, unknown>): Promise<void> {
    const lines = await central.send(JSON.stringify([msg]));
    assert.deepEqual(
      lines.map((l) => [l.status, l.subject]),
      [['accepted', 'ship1.REQHttpGet.EventACK']],
      JSON.stringify(lines),
    );
  }

  /** The error line at central that mentions `what`. */
  const errorLine = (what: string): Promise<string> =>
    eventually(
      () =>
        central
          .readErrorLog()
          .split('\n')
          .find((l) => l.includes(what)),
      { what: `an error line with ${what}`, timeoutMs: 30_000 },
    );

  it('replies with the body, which REQToFile writes on central', async () => {
    const tag = newTag('page');
    await send(get(`${base}/page`, tag));
    const body = await eventually(() => central.readData('web', 'ship1', `${tag}.html`), {
      what: 'the page on central',
      timeoutMs: 30_000,
    });
    assert.equal(body, page);
  });

  it('reports a 404 to central with the status', async () => {
    const tag = newTag('missing');
    await send(get(`${base}/missing-${tag}`, tag));
    const line = await errorLine(`/missing-${tag}`);
    assert.match(line, /node: ship1, error: REQHttpGet: not 2xx: status 404 Not Found, url: http:\/\/127\.0\.0\.1:\d+\/missing-/);
    assert.equal(central.readData('web', 'ship1', `${tag}.html`), '');
  });

  it('reports a server that does not answer within methodTimeout', async () => {
    const tag = newTag('slow');
    await send(get(`${base}/slow?${tag}`, tag, { methodTimeout: 1 }));
    const line = await errorLine(`/slow?${tag}`);
    assert.match(line, /REQHttpGet: method timed out after 1 s, url: /);
  });

  it('refuses a body larger than a reply can carry, with a clear error', async () => {
    const tag = newTag('big');
    await send(get(`${base}/big?${tag}`, tag));
    const line = await errorLine(`/big?${tag}`);
    assert.match(line, /REQHttpGet: body larger than \d+ bytes \(a reply must fit the broker's max payload\)/);
    assert.equal(central.readData('web', 'ship1', `${tag}.html`), '');
  });

  it('refuses a URL that is not http or https', async () => {
    const tag = newTag('ftp');
    await send(get(`ftp://127.0.0.1/${tag}`, tag));
    const line = await errorLine(`ftp://127.0.0.1/${tag}`);
    assert.match(line, /REQHttpGet: only http and https URLs are fetched, not ftp: /);
  });
});
