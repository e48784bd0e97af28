import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../support/eventually.js';
import { startFleet, type Fleet } from '../support/fleet.js';
import { issueCert, makeCA, type CertFiles } from '../support/pki.js';
import { freePort } from '../support/ports.js';
import type { StewardProcess } from '../support/steward.js';

/** Sends `input` over TLS (with a client certificate when given) and returns the answer text. */
function sendTls(port: number, ca: string, input: string, client?: CertFiles): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = tls.connect({
      host: '127.0.0.1',
      port,
      ca: fs.readFileSync(ca),
      servername: 'localhost',
      ...(client === undefined ? {} : { cert: fs.readFileSync(client.cert), key: fs.readFileSync(client.key) }),
    });
    let out = '';
    c.on('data', (b: Buffer) => (out += b.toString()));
    c.on('error', (err: Error) => {
      if (out === '') reject(err);
      else resolve(out);
    });
    c.on('end', () => resolve(out));
    c.on('secureConnect', () => c.end(input));
  });
}

/** The TCP input over TLS: a client certificate signed by -tcpTLSClientCAPath takes the token's place. */
describe('the TCP input over TLS', () => {
  let dir: string;
  let fleet: Fleet;
  let central: StewardProcess;
  let port: number;
  let ca: CertFiles;
  let client: CertFiles;
  const msg = (tag: string): string =>
    JSON.stringify({ toNode: 'ship1', method: 'REQCliCommand', methodArgs: ['echo', tag], directory: 'tls', fileName: `${tag}.txt` });

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'steward-tcp-tls-'));
    ca = makeCA(dir, 'ca');
    const server = issueCert(dir, ca, 'localhost', 'server');
    client = issueCert(dir, ca, 'operator', 'client');
    port = await freePort();
    fleet = await startFleet(['central', 'ship1'], {
      flags: ['-startPubREQHello=0'],
      flagsFor: {
        central: [
          `-tcpListener=127.0.0.1:${port}`,
          `-tcpTLSCertPath=${server.cert}`,
          `-tcpTLSKeyPath=${server.key}`,
          `-tcpTLSClientCAPath=${ca.cert}`,
        ],
      },
    });
    central = fleet.nodes[0] as StewardProcess;
  });

  after(async () => {
    await fleet?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('takes a message from a client with a certificate of the CA, without the token', async () => {
    const answer = await sendTls(port, ca.cert, msg('cert'), client);
    assert.match(answer, /"status":"accepted"/);
    await eventually(() => central.readData('tls', 'ship1', 'cert.txt') === 'cert\n', { what: 'the message to run' });
  });

  it('refuses a client without a certificate during the handshake: nothing is read', async () => {
    const answer = await sendTls(port, ca.cert, msg('nocert')).catch((err: Error) => `refused: ${err.message}`);
    assert.doesNotMatch(answer, /accepted/);
    await eventually(() => central.stderr.includes('tcp input: a TLS client was refused'), { what: 'the refusal in the log' });
    assert.equal(central.readData('tls', 'ship1', 'nocert.txt'), '');
  });
});
