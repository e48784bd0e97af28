import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { eventually, sleep } from '../support/eventually.js';
import { NatsServer } from '../support/nats-server.js';
import { StewardProcess, type InputLine } from '../support/steward.js';

/**
 * Bad input on the unix socket: for each kind, the daemon stays up (and still delivers the
 * next message), the client is told what was wrong, and the good messages of the same input
 * are delivered.
 */
describe('bad input on the unix socket', () => {
  let nats: NatsServer;
  let central: StewardProcess;
  let ship1: StewardProcess;
  let tagNo = 0;

  before(async () => {
    nats = await NatsServer.start();
    const common = { central: 'central', brokerUrl: `127.0.0.1:${nats.port}`, flags: ['-startPubREQHello=0'] };
    [central, ship1] = await Promise.all([
      StewardProcess.start({ name: 'central', ...common }),
      StewardProcess.start({ name: 'ship1', ...common }),
    ]);
  });

  after(async () => {
    await Promise.all([central, ship1].map((n) => n?.stop()));
    await nats?.close();
    for (const n of [central, ship1]) n?.cleanup();
  });

  /** A good command for ship1 whose output (the tag) lands in central's data folder. */
  const good = (tag: string): Record<string, unknown> => ({
    toNode: 'ship1',
    method: 'REQCliCommand',
    methodArgs: ['echo', tag],
    directory: 'bad-input',
    fileName: `${tag}.txt`,
  });
  const newTag = (what: string): string => `${what}-${++tagNo}`;
  const resultOf = (tag: string): Promise<string> =>
    eventually(() => central.readData('bad-input', 'ship1', `${tag}.txt`), { what: `the result of ${tag}`, timeoutMs: 30_000 });

  async function assertDelivered(tag: string): Promise<void> {
    assert.equal(await resultOf(tag), `${tag}\n`);
  }

  /** The daemon is still running and a following good message is still delivered. */
  async function assertStillServing(): Promise<void> {
    assert.ok(central.running, `central is still running; stderr: ${central.stderr.slice(-2000)}`);
    const tag = newTag('after');
    const lines = await central.send(JSON.stringify(good(tag)));
    assert.deepEqual(
      lines.map((l) => l.status),
      ['accepted'],
    );
    await assertDelivered(tag);
  }

  function assertAccepted(line: InputLine | undefined, index: number): void {
    assert.equal(line?.status, 'accepted', JSON.stringify(line));
    assert.equal(line?.index, index);
    assert.equal(line?.subject, 'ship1.REQCliCommand.CommandACK');
  }

  function assertError(line: InputLine | undefined, index: number, error: RegExp): void {
    assert.equal(line?.status, 'error', JSON.stringify(line));
    assert.equal(line?.index, index);
    assert.match(line?.error ?? '', error);
  }

  it('malformed JSON: a missing quote inside the middle element rejects that element only', async () => {
    const a = newTag('quote-a');
    const c = newTag('quote-c');
    const broken =
      '{"toNode":"ship1","method":"REQCliCommand,"methodArgs":["echo","broken"],"directory":"bad-input","fileName":"broken.txt"}';
    const lines = await central.send(`[${JSON.stringify(good(a))},${broken},${JSON.stringify(good(c))}]`);
    assert.equal(lines.length, 3, JSON.stringify(lines));
    assertAccepted(lines[0], 0);
    assertError(lines[1], 1, /^message 1 is malformed: /);
    assertAccepted(lines[2], 2);
    await assertDelivered(a);
    await assertDelivered(c);
    await assertStillServing();
    assert.equal(central.readData('bad-input', 'ship1', 'broken.txt'), '', 'the broken element was not run');
  });

  it('malformed JSON: a missing quote in the first element of a pretty-printed array, as in the seed examples', async () => {
    const b = newTag('pretty-b');
    const c = newTag('pretty-c');
    const text = `[\n{\n  "toNode": "ship1",\n  "method": "REQCliCommand",\n  "methodArgs": ["echo", "broken],\n  "directory": "bad-input"\n},\n${JSON.stringify(good(b), null, 2)},\n${JSON.stringify(good(c), null, 2)}\n]\n`;
    const lines = await central.send(text);
    assert.equal(lines.length, 3, JSON.stringify(lines));
    assertError(lines[0], 0, /^message 0 is malformed: /);
    assertAccepted(lines[1], 1);
    assertAccepted(lines[2], 2);
    await assertDelivered(b);
    await assertDelivered(c);
    await assertStillServing();
  });

  it('deeply nested brackets and YAML lists get an error and do not crash the daemon (found by the fuzzer)', async () => {
    for (const input of ['['.repeat(2000), '- '.repeat(1000), '['.repeat(100_000)]) {
      const lines = await central.send(input);
      assert.equal(lines.length, 1, JSON.stringify(lines).slice(0, 300));
      assert.equal(lines[0]?.status, 'error');
    }
    assert.ok(central.running, 'central is still running');
    const [ok] = await central.send(JSON.stringify({ toNode: 'central', method: 'REQToConsole', data: ['after-nesting'] }));
    assert.equal(ok?.status, 'accepted');
  });

  it('binary garbage is refused with an error line', async () => {
    // A fixed blob (a PNG header, NULs and every byte value) and random blobs of several sizes.
    const fixed = Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
    ]);
    const lines = await central.send(fixed);
    assert.equal(lines.length, 1, JSON.stringify(lines));
    assertError(lines[0], 0, /binary data|malformed input/);
    for (const size of [1, 7, 100, 4096, 65_536, 1_000_000]) {
      const blob = randomBytes(size);
      const answer = await central.send(blob);
      assert.ok(answer.length >= 1, `an answer for ${size} random bytes`);
      for (const l of answer)
        assert.equal(l.status, 'error', `random ${size} bytes ${blob.subarray(0, 32).toString('hex')}: ${JSON.stringify(l)}`);
    }
    await assertStillServing();
  });

  it('garbage after the end of a good array is reported, and the good message is delivered', async () => {
    const a = newTag('trailing-a');
    const b = newTag('trailing-b');
    const lines = await central.send(
      Buffer.concat([Buffer.from(`[${JSON.stringify(good(a))}]`), Buffer.from([0x00, 0xff, 0x13, 0x37]), Buffer.from(' trailing')]),
    );
    assert.equal(lines.length, 2, JSON.stringify(lines));
    assertAccepted(lines[0], 0);
    assertError(lines[1], 1, /unexpected text after the end of the array/);
    // Two arrays written back to back: the second is not silently dropped.
    const twice = await central.send(`[${JSON.stringify(good(b))}]\n[${JSON.stringify(good(newTag('second-array')))}]`);
    assert.equal(twice.length, 2, JSON.stringify(twice));
    assertAccepted(twice[0], 0);
    assertError(twice[1], 1, /unexpected text after the end of the array: "\[\{/);
    await assertDelivered(a);
    await assertDelivered(b);
    await assertStillServing();
  });

  it('empty input, blank input and an empty array are each answered with an error', async () => {
    assertError(only(await central.send('')), 0, /^empty input/);
    assertError(only(await central.send(' \n\t\n ')), 0, /^empty input/);
    assertError(only(await central.send('[]')), 0, /empty array/);
    await assertStillServing();
  });

  it('an unknown method is refused with the right name suggested; the other messages are delivered', async () => {
    const a = newTag('method-a');
    const c = newTag('method-c');
    const lines = await central.send(JSON.stringify([good(a), { ...good('never'), method: 'REQCliComand' }, good(c)]));
    assert.equal(lines.length, 3, JSON.stringify(lines));
    assertAccepted(lines[0], 0);
    assertError(lines[1], 1, /^message 1: unknown method "REQCliComand" \(did you mean "REQCliCommand"\?\)$/);
    assertAccepted(lines[2], 2);
    await assertDelivered(a);
    await assertDelivered(c);
    await assertStillServing();
  });

  it('an unknown field is refused naming the closest field; the other messages are delivered', async () => {
    const a = newTag('field-a');
    const lines = await central.send(JSON.stringify([{ ...good('never'), fileNme: 'x.txt' }, good(a)]));
    assert.equal(lines.length, 2, JSON.stringify(lines));
    assertError(lines[0], 0, /^message 0: unknown field "fileNme" \(did you mean "fileName"\?\)$/);
    assertAccepted(lines[1], 1);
    await assertDelivered(a);
    await assertStillServing();
  });

  it('a message without toNode is refused saying so; the other messages are delivered', async () => {
    const b = newTag('notonode-b');
    const { toNode: _drop, ...noTarget } = good('never');
    const lines = await central.send(JSON.stringify([noTarget, good(b)]));
    assert.equal(lines.length, 2, JSON.stringify(lines));
    assertError(lines[0], 0, /^message 0: no toNode or toNodes given/);
    assertAccepted(lines[1], 1);
    await assertDelivered(b);
    await assertStillServing();
  });

  it('a field of the wrong type is refused naming the field; the other messages are delivered', async () => {
    const b = newTag('type-b');
    const lines = await central.send(
      JSON.stringify([{ ...good('never'), ACKTimeout: 'five' }, good(b), { ...good('never'), methodArgs: 'echo x' }]),
    );
    assert.equal(lines.length, 3, JSON.stringify(lines));
    assertError(lines[0], 0, /^message 0: field ACKTimeout: .*expected number.*string/);
    assertAccepted(lines[1], 1);
    assertError(lines[2], 2, /^message 2: field methodArgs: .*expected array/);
    await assertDelivered(b);
    await assertStillServing();
  });

  it('a client that pauses between two elements of an array is answered for all of them', async () => {
    const tags = [newTag('pause-a'), newTag('pause-b'), newTag('pause-c')];
    const [a, b, c] = tags.map((t) => JSON.stringify(good(t)));
    // No half-close until the end, and a pause much longer than the socket's idle wait.
    const lines = await sendInParts(central.socketPath, [`[${a}, ${b}`, `, ${c}]`], 1_500);
    assert.deepEqual(
      lines.map((l) => [l.status, l.index]),
      [
        ['accepted', 0],
        ['accepted', 1],
        ['accepted', 2],
      ],
    );
    for (const t of tags) await assertDelivered(t);
    await assertStillServing();
  });

  it('a 10 MB array of 20,000 messages: one accepted line each, and every one written', { timeout: 300_000 }, async () => {
    const count = 20_000;
    const pad = 'x'.repeat(440);
    const line = (i: number): string => `line ${String(i).padStart(5, '0')} ${pad}\n`;
    const msgs = Array.from({ length: count }, (_, i) => ({
      toNode: 'ship1',
      method: 'REQToFileAppend',
      data: [line(i)],
      directory: 'big',
      fileName: 'big.txt',
    }));
    const input = JSON.stringify(msgs);
    assert.ok(input.length >= 10 * 1024 * 1024, `input is ${input.length} bytes`);
    const answer = await central.send(input);
    assert.equal(answer.length, count);
    const ids = new Set<string>();
    answer.forEach((l, i) => {
      assert.equal(l.status, 'accepted', JSON.stringify(l));
      assert.equal(l.index, i);
      assert.equal(l.subject, 'ship1.REQToFileAppend.EventACK');
      ids.add(l.id as string);
    });
    assert.equal(ids.size, count, 'every message has its own id');
    const written = await eventually(
      () => {
        const text = ship1.readData('big', 'ship1', 'big.txt');
        return text.split('\n').length - 1 >= count && text;
      },
      { what: `${count} lines in ship1's big.txt`, timeoutMs: 240_000, intervalMs: 500 },
    );
    const lines = written.split('\n').slice(0, -1);
    assert.equal(lines.length, count, 'no line written twice');
    assert.deepEqual(
      [...lines].sort(),
      Array.from({ length: count }, (_, i) => line(i).slice(0, -1)),
    );
    await assertStillServing();
  });
});

function only(lines: InputLine[]): InputLine {
  assert.equal(lines.length, 1, JSON.stringify(lines));
  return lines[0] as InputLine;
}

/** Writes `parts` to the socket with a pause between them, then half-closes; returns the answer lines. */
function sendInParts(socketPath: string, parts: string[], pauseMs: number): Promise<InputLine[]> {
  return new Promise((resolve, reject) => {
    const c = net.connect(socketPath);
    let out = '';
    c.on('data', (b: Buffer) => (out += b.toString()));
    // The server may close early (that is the failure this checks for): a write error is not the verdict.
    c.on('error', () => {});
    c.on('close', () => {
      try {
        resolve(
          out
            .split('\n')
            .filter((l) => l.trim() !== '')
            .map((l) => JSON.parse(l) as InputLine),
        );
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
    c.once('connect', () => {
      void (async () => {
        for (let i = 0; i < parts.length; i++) {
          if (i > 0) await sleep(pauseMs);
          if (c.destroyed || c.writableEnded) return;
          c.write(parts[i] as string);
        }
        c.end();
      })();
    });
  });
}
