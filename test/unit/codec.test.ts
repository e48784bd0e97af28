import assert from 'node:assert/strict';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { compress, decompress } from '@mongodb-js/zstd';
import { decodeMessage, DecodeError, encodeMessage, type WireOptions } from '../../src/message/codec.js';
import { FIELDS, MAX_TIMEOUT_MS, newMessage, type FieldRule, type Message } from '../../src/message/message.js';

const NOW = 1_700_000_000_000;
const base: Message = newMessage(
  {
    toNode: 'node2',
    fromNode: 'node1',
    method: 'REQCliCommand',
    methodArgs: ['echo', 'hi'],
    replyMethod: 'REQToFileAppend',
    ackTimeoutMs: 5_000,
    retries: 2,
    data: ['some output', 'ünïcödé ✓'],
  },
  NOW,
);
const relayed: Message = {
  ...base,
  relayViaNode: 'central',
  relayReplyMethod: 'REQToConsole',
  relayFromNode: 'node1',
  relayToNode: 'node2',
  relayOriginalViaNode: 'central',
  relayOriginalMethod: 'REQCliCommand',
  isReply: true,
  previousMessage: (({ data: _d, ...rest }) => rest)(base),
};

const FORMATS: WireOptions[] = (['cbor', 'json'] as const).flatMap((serialization) =>
  (['', 'g', 'z'] as const).map((compression) => ({ serialization, compression })),
);
const ALL = Object.entries(FIELDS) as [keyof typeof FIELDS, FieldRule][];
const REQUIRED = ALL.filter(([, rule]) => !rule.endsWith('?')).map(([f]) => f);
const NODE_FIELDS = ALL.filter(([, rule]) => rule.startsWith('node')).map(([f]) => f);
const OPTIONAL_NODE_FIELDS = ALL.filter(([, rule]) => rule === 'node?').map(([f]) => f);
const OPTIONAL_FIELDS = ALL.filter(([, rule]) => rule.endsWith('?')).map(([f]) => f);
const MS_FIELDS = ALL.filter(([, rule]) => rule === 'ms').map(([f]) => f);
/** A value of the wrong type for each rule. */
const WRONG: Record<FieldRule, unknown> = {
  id: 42,
  node: 42,
  'node?': 42,
  string: 42,
  'string?': ['x'],
  strings: ['a', 42],
  boolean: 'true',
  number: '5',
  ms: '5000',
  time: '2024-01-01',
};

/** Decodes `value` sent as JSON, with no compression. */
const fromJson = (value: unknown): Promise<Message> =>
  decodeMessage(Buffer.from(JSON.stringify(value)), (h) => (h === 'serial' ? 'json' : ''));

/** Asserts the promise is refused with a DecodeError whose message matches `pattern`. */
async function refused(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof DecodeError, `expected a DecodeError, got ${String(err)}`);
    assert.match(err.message, pattern);
    return true;
  });
}

const without = (o: Record<string, unknown>, f: string): Record<string, unknown> => {
  const copy = { ...o };
  delete copy[f];
  return copy;
};

describe('encodeMessage and decodeMessage: round trips', () => {
  for (const opts of FORMATS) {
    it(`gives back the same message with serialization ${opts.serialization} and compression '${opts.compression}'`, async () => {
      const enc = await encodeMessage(relayed, opts);
      assert.equal(enc.headers.serial, opts.serialization);
      assert.equal(enc.headers.cmp, opts.compression === '' ? undefined : opts.compression);
      assert.deepEqual(await decodeMessage(enc.payload, (h) => enc.headers[h] ?? ''), relayed);
    });
  }

  it('reads a payload without a serial header as CBOR', async () => {
    const enc = await encodeMessage(base, { serialization: 'cbor', compression: '' });
    assert.deepEqual(await decodeMessage(enc.payload, () => ''), base);
  });

  it('compresses a repetitive message with gzip and zstd to fewer bytes than the plain encoding', async () => {
    const big = { ...base, data: ['line of output\n'.repeat(2_000)] };
    const plain = await encodeMessage(big, { serialization: 'cbor', compression: '' });
    for (const compression of ['g', 'z'] as const) {
      const enc = await encodeMessage(big, { serialization: 'cbor', compression });
      assert.ok(enc.payload.length < plain.payload.length / 10, `${compression}: ${enc.payload.length} bytes`);
    }
  });
});

describe('decodeMessage: field checks', () => {
  for (const f of REQUIRED) {
    it(`refuses a payload without ${f}, naming the field`, async () => {
      await refused(fromJson(without({ ...base }, f)), new RegExp(`^payload field ${f} `));
    });
  }

  for (const [f, rule] of ALL) {
    it(`refuses a payload whose ${f} has the wrong type`, async () => {
      await refused(fromJson({ ...base, [f]: WRONG[rule] }), new RegExp(`^payload field ${f} is not a`));
    });
  }

  for (const f of NODE_FIELDS) {
    it(`refuses a payload whose ${f} is not a node name`, async () => {
      for (const bad of ['a.b', 'node*', 'node>', 'two words', 'a/b', 'nöde', 'n'.repeat(129)]) {
        await refused(fromJson({ ...base, [f]: bad }), new RegExp(`^payload field ${f} is not a valid node name`));
      }
    });
  }

  it('accepts a node name of 128 letters, digits, _ and -', async () => {
    const name = `Node_1-${'x'.repeat(121)}`;
    assert.equal((await fromJson({ ...base, toNode: name })).toNode, name);
  });

  it('refuses an empty toNode or fromNode', async () => {
    await refused(fromJson({ ...base, toNode: '' }), /^payload field toNode is not a valid node name/);
    await refused(fromJson({ ...base, fromNode: '' }), /^payload field fromNode is not a valid node name/);
  });

  it('accepts the optional relay fields absent or empty, and leaves absent ones absent', async () => {
    const absent = await fromJson(base);
    for (const f of OPTIONAL_FIELDS) assert.equal(f in absent, false, f);
    const empty = await fromJson({ ...base, ...Object.fromEntries(OPTIONAL_NODE_FIELDS.map((f) => [f, ''])) });
    for (const f of OPTIONAL_NODE_FIELDS) assert.equal(empty[f], '', f);
  });

  it('refuses an optional relay field sent as null', async () => {
    for (const f of OPTIONAL_FIELDS) await refused(fromJson({ ...base, [f]: null }), new RegExp(`^payload field ${f} is not a string`));
  });

  it('cuts every timeout above MAX_TIMEOUT_MS to MAX_TIMEOUT_MS and keeps the ones below', async () => {
    const far = await fromJson({ ...base, ...Object.fromEntries(MS_FIELDS.map((f) => [f, 1e12])) });
    for (const f of MS_FIELDS) assert.equal(far[f], MAX_TIMEOUT_MS, f);
    const near = await fromJson({ ...base, ...Object.fromEntries(MS_FIELDS.map((f) => [f, MAX_TIMEOUT_MS])) });
    for (const f of MS_FIELDS) assert.equal(near[f], MAX_TIMEOUT_MS, f);
    assert.equal((await fromJson({ ...base, methodTimeoutMs: -1 })).methodTimeoutMs, -1);
  });

  it('keeps a large retry count as it is (retries are not a timeout)', async () => {
    assert.equal((await fromJson({ ...base, retries: 1e12 })).retries, 1e12);
  });

  it('refuses a createdMs a Date cannot hold and accepts the ends of the range', async () => {
    for (const bad of [-1, 8.64e15 + 1, 1e300])
      await refused(fromJson({ ...base, createdMs: bad }), /^payload field createdMs is not a time/);
    assert.equal((await fromJson({ ...base, createdMs: 0 })).createdMs, 0);
    assert.equal((await fromJson({ ...base, createdMs: 8.64e15 })).createdMs, 8.64e15);
  });

  it('refuses numbers that are not finite, or are not JSON numbers, sent as CBOR', async () => {
    for (const [f, v] of [
      ['createdMs', NaN],
      ['ackTimeoutMs', Infinity],
      ['retries', 5n],
    ] as const) {
      const enc = await encodeMessage({ ...base, [f]: v }, { serialization: 'cbor', compression: '' });
      await refused(
        decodeMessage(enc.payload, () => ''),
        new RegExp(`^payload field ${f} is not a number`),
      );
    }
  });

  it('drops fields it does not know, also inside previousMessage', async () => {
    const msg = await fromJson({
      ...base,
      extra: { deep: [1, 2] },
      signature: 1,
      previousMessage: { ...relayed.previousMessage, extra: 1 },
    });
    assert.equal('extra' in msg, false);
    assert.equal('signature' in msg, false);
    assert.equal(msg.previousMessage !== undefined && 'extra' in msg.previousMessage, false);
    assert.deepEqual(Object.keys(msg).sort(), [...REQUIRED, 'previousMessage'].sort());
  });

  it('accepts message ids of 1 to 256 letters, digits, _ and -', async () => {
    for (const id of ['a', 'x'.repeat(256), '01J0ABCDEFGHJKMNPQRSTVWXYZ-r0_part']) assert.equal((await fromJson({ ...base, id })).id, id);
  });

  it('refuses a message id that is empty, too long or has other characters', async () => {
    for (const id of ['', 'x'.repeat(257), 'a.b', 'a b', 'a/b', 'ïd', 'a\nb']) {
      await refused(fromJson({ ...base, id }), /^payload field id is not a message id/);
    }
  });
});

describe('decodeMessage: previousMessage', () => {
  it('keeps a valid previousMessage, without data even when the sender put some in', async () => {
    const msg = await fromJson({ ...base, isReply: true, previousMessage: { ...base, data: ['secret'] } });
    assert.deepEqual(msg.previousMessage, relayed.previousMessage);
  });

  it('refuses a previousMessage that is not an object', async () => {
    for (const bad of [null, 'x', 5, [base]]) {
      await refused(fromJson({ ...base, previousMessage: bad }), /^payload field previousMessage is not (an object|a message object)/);
    }
  });

  it('refuses a previousMessage with a bad id, node name or missing field, naming the field', async () => {
    const prev = relayed.previousMessage as Record<string, unknown>;
    await refused(
      fromJson({ ...base, previousMessage: { ...prev, id: 'a.b' } }),
      /^payload field previousMessage field id is not a message id/,
    );
    await refused(fromJson({ ...base, previousMessage: { ...prev, toNode: 'a>' } }), /^payload field previousMessage field toNode /);
    await refused(fromJson({ ...base, previousMessage: without(prev, 'method') }), /^payload field previousMessage field method /);
    await refused(fromJson({ ...base, previousMessage: { ...prev, relayFromNode: 'x y' } }), /previousMessage field relayFromNode /);
  });

  it('does not require data in previousMessage', async () => {
    const msg = await fromJson({ ...base, previousMessage: relayed.previousMessage });
    assert.equal(msg.previousMessage?.id, base.id);
  });
});

describe('decodeMessage: broken payloads', () => {
  it('refuses garbage bytes in every format with a DecodeError', async () => {
    for (const bytes of [Buffer.alloc(0), Buffer.from([0xff, 0x00, 0x12]), Buffer.from('hello world')]) {
      for (const opts of FORMATS) {
        const headers: Record<string, string> = { serial: opts.serialization, cmp: opts.compression };
        await refused(
          decodeMessage(bytes, (h) => headers[h] ?? ''),
          /^cannot (decode|decompress)/,
        );
      }
    }
  });

  it('refuses a payload that decodes to something other than a message object', async () => {
    for (const v of [1, 'text', null, [base]]) await refused(fromJson(v), /^payload is not a message object/);
  });

  for (const compression of ['g', 'z'] as const) {
    it(`refuses a truncated ${compression === 'g' ? 'gzip' : 'zstd'} payload`, async () => {
      const enc = await encodeMessage(base, { serialization: 'json', compression });
      for (const cut of [1, 5, Math.floor(enc.payload.length / 2)]) {
        await refused(
          decodeMessage(enc.payload.subarray(0, enc.payload.length - cut), (h) => enc.headers[h] ?? ''),
          new RegExp(`^cannot decompress payload \\(cmp=${compression}\\)`),
        );
      }
    });
  }

  it('refuses a tiny zstd payload whose blocks claim more than 256 MiB', async () => {
    const rleBlock = (last: boolean): Buffer => {
      const h = Buffer.alloc(4);
      h.writeUIntLE(((2 ** 21 - 1) << 3) | (1 << 1) | (last ? 1 : 0), 0, 3);
      return h;
    };
    const blocks = Array.from({ length: 130 }, (_, i) => rleBlock(i === 129));
    const bomb = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58]), ...blocks]);
    assert.ok(bomb.length < 1024);
    await refused(
      decodeMessage(bomb, (h) => (h === 'cmp' ? 'z' : '')),
      /^cannot decompress payload \(cmp=z\)/,
    );
  });
});

describe('bounded decompression', () => {
  const zeros = Buffer.alloc(8 * 1024 * 1024);
  for (const [cmp, pack] of [
    ['g', (b: Buffer) => gzipSync(b)],
    ['z', (b: Buffer) => zstdCompressSync(b)],
  ] as const) {
    it(`refuses a ${cmp === 'g' ? 'gzip' : 'zstd'} bomb as soon as it inflates past the bound, naming it`, async () => {
      const bomb = pack(zeros);
      assert.ok(bomb.length < 64 * 1024, `${bomb.length} bytes on the wire`);
      await refused(
        decodeMessage(bomb, (h) => (h === 'cmp' ? cmp : '')),
        new RegExp(`^cannot decompress payload \\(cmp=${cmp}\\): it inflates beyond ${1024 * 1024 + 64 * 1024} bytes`),
      );
      await refused(
        decodeMessage(bomb, (h) => (h === 'cmp' ? cmp : ''), 4096),
        /it inflates beyond 4096 bytes/,
      );
    });
  }

  it('says how large a message is before and after compression, so an input can refuse one that would not fit uncompressed', async () => {
    const big = newMessage({
      toNode: 'ship1',
      fromNode: 'central',
      method: 'REQToFileAppend',
      ackTimeoutMs: 5000,
      retries: 0,
      data: ['a'.repeat(2_000_000)],
    });
    const e = await encodeMessage(big, { serialization: 'cbor', compression: 'z' });
    assert.ok(e.payload.length < 100_000);
    assert.ok(e.plainBytes > 2_000_000);
  });
});

describe('zstd from node:zlib and the native binding of earlier steward versions', () => {
  const message = newMessage({ toNode: 'ship1', fromNode: 'central', method: 'REQCliCommand', ackTimeoutMs: 5000, retries: 3 });
  message.data = [Array.from({ length: 2000 }, (_, i) => `line ${i}`).join('\n')];

  for (const serialization of ['cbor', 'json'] as const) {
    it(`decodes a ${serialization} message compressed by @mongodb-js/zstd (a node of an earlier version)`, async () => {
      const plain = await encodeMessage(message, { serialization, compression: '' });
      const z = await compress(Buffer.from(plain.payload), 3);
      assert.deepEqual(await decodeMessage(z, (h) => (h === 'cmp' ? 'z' : h === 'serial' ? serialization : '')), message);
    });

    it(`compresses a ${serialization} message so that @mongodb-js/zstd decompresses it (a node of an earlier version)`, async () => {
      const plain = await encodeMessage(message, { serialization, compression: '' });
      const ours = await encodeMessage(message, { serialization, compression: 'z' });
      assert.equal(ours.headers.cmp, 'z');
      assert.ok(ours.payload.length < plain.payload.length / 2, 'it is compressed');
      assert.deepEqual(await decompress(Buffer.from(ours.payload)), Buffer.from(plain.payload));
    });
  }
});
