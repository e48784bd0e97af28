import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../support/eventually.js';
import { startFleet, type Fleet } from '../support/fleet.js';
import { StewardProcess } from '../support/steward.js';
import { TcpProxy } from '../support/tcp-proxy.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/**
 * REQCopyFileFrom / REQCopyFileTo through a real broker: central asks a node to send one of its
 * files to another node. ship2 reaches the broker through a TCP proxy, so its link can be cut
 * in the middle of a copy.
 */

/** Copies may be written anywhere under the temporary folder (-copyDestinations; the default is the data folder only). */
const COPY_ANYWHERE_IN_TMP = `-copyDestinations=${os.tmpdir()}`;
describe('REQCopyFileFrom and REQCopyFileTo', () => {
  let fleet: Fleet;
  let central: StewardProcess;
  let ship1: StewardProcess;
  let ship2: StewardProcess;
  let proxy: TcpProxy;
  let tagNo = 0;
  const newTag = (what: string): string => `${what}-${++tagNo}`;

  before(async () => {
    // The copies land in the nodes' temporary folders, outside their data folders.
    fleet = await startFleet(['central', 'ship1'], { flags: ['-startPubREQHello=0', COPY_ANYWHERE_IN_TMP] });
    [central, ship1] = fleet.nodes as [StewardProcess, StewardProcess];
    proxy = await TcpProxy.start(fleet.nats.port);
    ship2 = await StewardProcess.start({
      name: 'ship2',
      central: 'central',
      brokerUrl: `127.0.0.1:${proxy.port}`,
      flags: ['-startPubREQHello=0', COPY_ANYWHERE_IN_TMP],
    });
  });

  after(async () => {
    await ship2?.stop();
    ship2?.cleanup();
    await proxy?.close();
    await fleet?.close();
  });

  async function send(msg: Record<string, unknown>): Promise<string> {
    const lines = await central.send(JSON.stringify([msg]));
    assert.equal(lines.length, 1, JSON.stringify(lines));
    assert.equal(lines[0]?.status, 'accepted', JSON.stringify(lines));
    return lines[0]?.id as string;
  }

  const copy = (from: string, args: string[], tag: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    directory: 'copy',
    fileName: `${tag}.log`,
    toNodes: [from],
    method: 'REQCopyFileFrom',
    methodArgs: args,
    replyMethod: 'REQToFileAppend',
    ...extra,
  });

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

  const leftovers = (dir: string): string[] => fs.readdirSync(dir).filter((f) => f.endsWith('.part'));

  it("copies the seed example: a file of central to ship2, mode kept, reply in central's copy.log", async () => {
    const content = `hello from central ${process.pid}\n`;
    fs.writeFileSync(path.join(central.dir, 'tmp2.txt'), content);
    fs.chmodSync(path.join(central.dir, 'tmp2.txt'), 0o640);
    const dst = path.join(ship2.dir, 'copied', 'tmp2.txt');
    // The seed's message, with a destination inside the test's folder instead of /tmp.
    await send({
      directory: 'copy',
      fileName: 'copy.log',
      toNodes: ['central'],
      method: 'REQCopyFileFrom',
      methodArgs: ['./tmp2.txt', 'ship2', dst],
      replyMethod: 'REQToFileAppend',
    });
    const reply = await eventually(() => central.readData('copy', 'ship2', 'copy.log'), {
      what: 'the copy reply on central',
      timeoutMs: 30_000,
    });
    assert.equal(fs.readFileSync(dst, 'utf8'), content);
    assert.equal(fs.statSync(dst).mode & 0o777, 0o640);
    assert.equal(reply, `info: copied central:./tmp2.txt to ship2:${dst} (${content.length} bytes, sha256 ${sha(Buffer.from(content))})\n`);
    assert.deepEqual(leftovers(path.dirname(dst)), []);
  });

  it('copies a 5 MB binary file in chunks under the max payload, checksum equal', async () => {
    const tag = newTag('big');
    const bytes = randomBytes(5 * 1024 * 1024 + 17);
    const src = path.join(ship1.dir, 'big.bin');
    fs.writeFileSync(src, bytes, { mode: 0o755 });
    fs.chmodSync(src, 0o755);
    const dst = path.join(ship2.dir, 'big', 'big.bin');
    await send(copy('ship1', [src, 'ship2', dst], tag));
    const reply = await eventually(() => central.readData('copy', 'ship2', `${tag}.log`), { what: 'the copy reply', timeoutMs: 60_000 });
    assert.match(reply, new RegExp(`^info: copied ship1:${src} to ship2:${dst} \\(${bytes.length} bytes, sha256 ${sha(bytes)}\\)\n$`));
    assert.equal(sha(fs.readFileSync(dst)), sha(bytes));
    assert.equal(fs.statSync(dst).mode & 0o777, 0o755);
    // Seven chunks of at most ~780 KB crossed, each once; the audit log keeps them without their data.
    const audit = fs.readFileSync(path.join(ship1.dir, 'var', 'lib', 'audit.log'), 'utf8');
    const chunks = audit.split('\n').filter((l) => l.includes('"method":"REQCopyFileTo"') && l.includes('"chunk"'));
    assert.equal(chunks.length, 7);
    assert.ok(
      chunks.every((l) => l.length < 10_000),
      'chunk data is not kept in the audit log',
    );
  });

  it('copies an empty file', async () => {
    const tag = newTag('empty');
    const src = path.join(ship1.dir, 'empty.txt');
    fs.writeFileSync(src, '');
    const dst = path.join(ship2.dir, 'empty', 'empty.txt');
    await send(copy('ship1', [src, 'ship2', dst], tag));
    await eventually(() => central.readData('copy', 'ship2', `${tag}.log`).startsWith('info: copied'), {
      what: 'the copy reply',
      timeoutMs: 30_000,
    });
    assert.equal(fs.readFileSync(dst, 'utf8'), '');
  });

  it('copies a file to another path on the same node', async () => {
    const tag = newTag('local');
    const bytes = randomBytes(100 * 1024);
    const src = path.join(ship1.dir, 'local-src.bin');
    fs.writeFileSync(src, bytes);
    const dst = path.join(ship1.dir, 'local', 'dst.bin');
    await send(copy('ship1', [src, 'ship1', dst, '16384'], tag));
    await eventually(() => central.readData('copy', 'ship1', `${tag}.log`).startsWith('info: copied ship1:'), {
      what: 'the copy reply',
      timeoutMs: 30_000,
    });
    assert.equal(sha(fs.readFileSync(dst)), sha(bytes));
  });

  it('replaces an existing destination file in one step', async () => {
    const tag = newTag('replace');
    const src = path.join(ship1.dir, 'new.txt');
    fs.writeFileSync(src, 'new content\n');
    const dst = path.join(ship2.dir, 'replace.txt');
    fs.writeFileSync(dst, 'old content that is longer than the new one\n');
    await send(copy('ship1', [src, 'ship2', dst], tag));
    await eventually(() => central.readData('copy', 'ship2', `${tag}.log`).startsWith('info: copied'), {
      what: 'the copy reply',
      timeoutMs: 30_000,
    });
    assert.equal(fs.readFileSync(dst, 'utf8'), 'new content\n');
  });

  it('resumes a copy cut by a link outage: the file arrives whole and each chunk crosses once', async () => {
    const tag = newTag('cut');
    const bytes = randomBytes(3 * 1024 * 1024);
    const src = path.join(central.dir, 'cut.bin');
    fs.writeFileSync(src, bytes);
    const dst = path.join(ship2.dir, 'cut', 'cut.bin');
    const chunkBytes = 32 * 1024; // 96 chunks
    await send(copy('central', [src, 'ship2', dst, String(chunkBytes)], tag, { ACKTimeout: 1, retries: -1 }));
    // Cut ship2's link once part of the file is on ship2, for 4 s.
    await eventually(
      () =>
        fs.existsSync(path.dirname(dst)) &&
        fs.readdirSync(path.dirname(dst)).some((f) => f.endsWith('.part') && fs.statSync(path.join(path.dirname(dst), f)).size > 0),
      { what: 'part of the file on ship2', timeoutMs: 30_000, intervalMs: 5 },
    );
    proxy.cut();
    const partSize =
      fs
        .readdirSync(path.dirname(dst))
        .filter((f) => f.endsWith('.part'))
        .map((f) => fs.statSync(path.join(path.dirname(dst), f)).size)[0] ?? 0;
    await new Promise((r) => setTimeout(r, 4000));
    assert.equal(fs.existsSync(dst), false, 'the file is not in place while the link is cut');
    proxy.restore();
    const reply = await eventually(() => central.readData('copy', 'ship2', `${tag}.log`), { what: 'the copy reply', timeoutMs: 60_000 });
    assert.match(reply, /^info: copied central:/);
    assert.equal(sha(fs.readFileSync(dst)), sha(bytes));
    assert.ok(partSize < bytes.length, `the cut came before the end (${partSize} of ${bytes.length} bytes were there)`);
    // Resumed, not restarted: every chunk was delivered exactly once (by id) from central.
    const audit = fs.readFileSync(path.join(central.dir, 'var', 'lib', 'audit.log'), 'utf8');
    const ids = audit
      .split('\n')
      .filter((l) => l.includes('"outcome":"delivered"') && l.includes('"REQCopyFileTo"') && l.includes(`"${dst}"`))
      .map((l) => (JSON.parse(l) as { message: { id: string } }).message.id);
    assert.equal(ids.length, 96 + 1, 'the 96 chunks and the end, each delivered once');
    assert.equal(new Set(ids).size, ids.length);
  });

  it('finishes a copy after the source node is killed -9 in the middle and restarted', async () => {
    const tag = newTag('crash');
    const bytes = randomBytes(4 * 1024 * 1024);
    const src = path.join(ship1.dir, 'crash.bin');
    fs.writeFileSync(src, bytes);
    const dst = path.join(ship2.dir, 'crash', 'crash.bin');
    await send(copy('ship1', [src, 'ship2', dst, '16384'], tag, { retries: -1, ACKTimeout: 2 }));
    await eventually(() => fs.existsSync(path.dirname(dst)) && fs.readdirSync(path.dirname(dst)).some((f) => f.endsWith('.part')), {
      what: 'the copy under way',
      timeoutMs: 30_000,
      intervalMs: 5,
    });
    await ship1.kill9();
    await ship1.start();
    await eventually(() => central.readData('copy', 'ship2', `${tag}.log`).startsWith('info: copied'), {
      what: 'the copy reply',
      timeoutMs: 60_000,
    });
    assert.equal(sha(fs.readFileSync(dst)), sha(bytes));
    assert.deepEqual(leftovers(path.dirname(dst)), []);
  });

  it('finishes a copy after the destination node is killed -9 in the middle and restarted', async () => {
    const tag = newTag('dstcrash');
    const bytes = randomBytes(4 * 1024 * 1024);
    const src = path.join(ship1.dir, 'dstcrash.bin');
    fs.writeFileSync(src, bytes);
    const dst = path.join(ship2.dir, 'dstcrash', 'dstcrash.bin');
    await send(copy('ship1', [src, 'ship2', dst, '16384'], tag, { retries: -1, ACKTimeout: 2 }));
    await eventually(() => fs.existsSync(path.dirname(dst)) && fs.readdirSync(path.dirname(dst)).some((f) => f.endsWith('.part')), {
      what: 'the copy under way',
      timeoutMs: 30_000,
      intervalMs: 5,
    });
    await ship2.kill9();
    await ship2.start();
    await eventually(() => central.readData('copy', 'ship2', `${tag}.log`).startsWith('info: copied'), {
      what: 'the copy reply',
      timeoutMs: 60_000,
    });
    assert.equal(sha(fs.readFileSync(dst)), sha(bytes));
    assert.deepEqual(leftovers(path.dirname(dst)), []);
  });

  describe('bad arguments: an error line at central and an error reply, nothing written', () => {
    const cases: [string, (dir: string) => string[], string][] = [
      ['no arguments', () => [], 'methodArgs must be [srcPath, dstNode, dstPath]'],
      ['two arguments', () => ['/etc/hostname', 'ship2'], 'methodArgs must be [srcPath, dstNode, dstPath]'],
      ['a missing source', (d) => [path.join(d, 'nope.txt'), 'ship2', path.join(d, 'x')], 'source file not found'],
      ['a folder as source', (d) => [d, 'ship2', path.join(d, 'x')], 'is not a regular file'],
      ['a bad node name', (d) => [path.join(d, 'etc', 'config.toml'), 'ship2/../x', path.join(d, 'x')], 'is not a valid node name'],
      ['a folder as destination path', (d) => [path.join(d, 'etc', 'config.toml'), 'ship2', `${d}/`], 'must name a file'],
      [
        'a chunk size too small',
        (d) => [path.join(d, 'etc', 'config.toml'), 'ship2', path.join(d, 'x'), '10'],
        'chunk size "10" must be a number of bytes',
      ],
      [
        'a chunk size over the max payload',
        (d) => [path.join(d, 'etc', 'config.toml'), 'ship2', path.join(d, 'x'), '99999999'],
        'must be a number of bytes',
      ],
    ];
    for (const [name, args, expected] of cases) {
      it(name, async () => {
        const tag = newTag('bad');
        const id = await send(copy('ship1', args(ship1.dir), tag));
        const line = await errorLine(id);
        assert.ok(line.includes(expected), line);
        const reply = await eventually(() => central.readData('copy', 'ship1', `${tag}.log`), {
          what: 'the error reply',
          timeoutMs: 30_000,
        });
        assert.ok(reply.startsWith('error: REQCopyFileFrom: ') && reply.includes(expected), reply);
      });
    }

    it('a destination that is a folder on the destination node fails at the end, the folder untouched', async () => {
      const tag = newTag('dstdir');
      const src = path.join(ship1.dir, 'etc', 'config.toml');
      const dst = path.join(ship2.dir, 'a-folder');
      fs.mkdirSync(path.join(dst, 'inside'), { recursive: true });
      const id = await send(copy('ship1', [src, 'ship2', dst], tag));
      const line = await errorLine(id);
      assert.match(line, /REQCopyFileTo: copy of .* failed: .* is a folder/);
      assert.deepEqual(fs.readdirSync(dst), ['inside']);
      assert.deepEqual(leftovers(ship2.dir), []);
    });

    it('REQCopyFileTo sent by hand is refused with a hint to use REQCopyFileFrom', async () => {
      const id = await send({ toNode: 'ship2', method: 'REQCopyFileTo', methodArgs: ['/tmp/x', 'y'], data: ['hello'] });
      const line = await errorLine(id);
      assert.ok(line.includes('send REQCopyFileFrom with methodArgs [srcPath, dstNode, dstPath]'), line);
    });
  });
});
