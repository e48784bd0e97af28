import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isCompleteDocument, operatorRequest, splitDocument, yamlDepth, type Element } from '../../src/message/document.js';

/** The values of elements that must all have parsed. */
function values(elements: Element[]): unknown[] {
  return elements.map((e) => {
    if ('error' in e) assert.fail(`element ${e.index} was refused: ${e.error}`);
    return e.value;
  });
}

/** The error of the only element. */
function onlyError(elements: Element[]): string {
  assert.equal(elements.length, 1, JSON.stringify(elements));
  const [e] = elements;
  if (e === undefined || !('error' in e)) return assert.fail(`expected an error, got ${JSON.stringify(e)}`);
  return e.error;
}

const msg = (toNode: string): string => `{"toNode":"${toNode}","method":"REQCliCommand","methodArgs":["echo","${toNode}"]}`;

describe('splitDocument: inputs that parse', () => {
  it('gives each element of a JSON array with its index', () => {
    const out = splitDocument(`[${msg('a')}, ${msg('b')}, ${msg('c')}]`);
    assert.deepEqual(
      out.map((e) => e.index),
      [0, 1, 2],
    );
    assert.deepEqual(
      values(out).map((v) => (v as { toNode: string }).toNode),
      ['a', 'b', 'c'],
    );
  });

  it('gives a single object as the one element 0', () => {
    assert.deepEqual(splitDocument(msg('a')), [{ index: 0, value: JSON.parse(msg('a')) as unknown }]);
  });

  it('reads a YAML mapping and a YAML list', () => {
    assert.deepEqual(values(splitDocument('toNode: a\nmethod: REQHello\nmethodArgs:\n  - x\n')), [
      { toNode: 'a', method: 'REQHello', methodArgs: ['x'] },
    ]);
    assert.deepEqual(values(splitDocument('- toNode: a\n  method: REQHello\n- toNode: b\n  method: REQPing\n')), [
      { toNode: 'a', method: 'REQHello' },
      { toNode: 'b', method: 'REQPing' },
    ]);
  });

  it('accepts the trailing commas of the seed examples in arrays and objects', () => {
    const text = '[\n  {\n    "toNode": "a",\n    "methodArgs": ["echo", "hi",],\n  },\n  {"toNode": "b",},\n]\n';
    assert.throws(() => JSON.parse(text) as unknown, SyntaxError);
    assert.deepEqual(values(splitDocument(text)), [{ toNode: 'a', methodArgs: ['echo', 'hi'] }, { toNode: 'b' }]);
  });

  it('keeps strings holding brackets, commas and quotes intact', () => {
    const text = '[{"data":["a, b", "]", "{", "say \\"hi\\""]}, {"toNode":"x",}]';
    assert.deepEqual(values(splitDocument(text)), [{ data: ['a, b', ']', '{', 'say "hi"'] }, { toNode: 'x' }]);
  });

  it('accepts deeply nested JSON, which JSON.parse handles without YAML', () => {
    const deep = `[${'['.repeat(5_000)}${']'.repeat(5_000)}]`;
    assert.equal(values(splitDocument(deep)).length, 1);
  });
});

describe('splitDocument: inputs that do not parse', () => {
  it('refuses an empty or blank input with one error', () => {
    for (const text of ['', '   \n\t ']) assert.match(onlyError(splitDocument(text)), /^empty input/);
  });

  it('refuses an empty array with one error', () => {
    assert.match(onlyError(splitDocument('[]')), /empty array: no messages/);
    assert.match(onlyError(splitDocument('[ \n ]')), /empty array: no messages/);
  });

  it('keeps the good elements around a broken one, each with its index', () => {
    for (const broken of ['{"toNode" "b"}', '{"toNode": "b}', '{"toNode": }}']) {
      const out = splitDocument(`[${msg('a')}, ${broken}, ${msg('c')}]`);
      assert.equal(out.length, 3, `${broken}: ${JSON.stringify(out)}`);
      assert.deepEqual(out[0], { index: 0, value: JSON.parse(msg('a')) as unknown });
      assert.equal(out[1]?.index, 1);
      assert.match((out[1] as { error: string }).error, /^message 1 is malformed: /);
      assert.deepEqual(out[2], { index: 2, value: JSON.parse(msg('c')) as unknown });
    }
  });

  it('reports text after the end of the array as a malformed last element', () => {
    const out = splitDocument(`[${msg('a')}, ${msg('b')}] trailing words`);
    assert.deepEqual(
      out.slice(0, 2).map((e) => e.index),
      [0, 1],
    );
    assert.equal(values(out.slice(0, 2)).length, 2);
    assert.deepEqual(out[2], { index: 2, error: 'message 2 is malformed: unexpected text after the end of the array: "trailing words"' });
  });

  it('shortens long trailing text in the error', () => {
    const out = splitDocument(`[${msg('a')}] ${'x'.repeat(500)}`);
    const last = out[out.length - 1] as { error: string };
    assert.match(last.error, /"x{40}\.\.\."$/);
  });

  it('refuses text that is neither JSON nor YAML with one error', () => {
    assert.match(onlyError(splitDocument('{"toNode": "a"')), /^malformed input, not JSON or YAML: /);
    assert.match(onlyError(splitDocument('{"a":1} {"b":2}')), /^malformed input, not JSON or YAML: /);
  });

  it('refuses deep nesting with an error instead of crashing', () => {
    for (const text of ['['.repeat(100_000), '- '.repeat(5_000) + 'x', `[${'{"a":'.repeat(50_000)}`, `{"a":${'['.repeat(20_000)}`]) {
      assert.match(onlyError(splitDocument(text)), /not tried as YAML: nested deeper than 100 levels/);
    }
  });

  it('refuses a deep YAML-only element in an array but keeps its neighbours', () => {
    const deep = `${'['.repeat(3_000)}1,${']'.repeat(3_000)}`;
    const out = splitDocument(`[${msg('a')}, ${deep}, ${msg('c')}]`);
    assert.equal(out.length, 3);
    assert.match((out[1] as { error: string }).error, /^message 1 is malformed: .*nested deeper than 100 levels/);
    assert.deepEqual(values([out[0] as Element, out[2] as Element]), [JSON.parse(msg('a')), JSON.parse(msg('c'))]);
  });

  it('does not try more than 1 MiB of text as YAML', () => {
    const big = `[${msg('a')},]${' '.repeat(1024 * 1024)}`;
    assert.match(onlyError(splitDocument(`{"x": 1,${big}`)), /not tried as YAML: larger than 1048576 characters/);
  });
});

describe('isCompleteDocument', () => {
  it('is true for a whole JSON array, a whole object and YAML with trailing commas', () => {
    assert.equal(isCompleteDocument(`[${msg('a')}, ${msg('b')}]`), true);
    assert.equal(isCompleteDocument(msg('a')), true);
    assert.equal(isCompleteDocument('[{"toNode":"a",},]'), true);
  });

  it('is false for a half-written array or object, also between two elements', () => {
    const whole = `[${msg('a')}, ${msg('b')}]`;
    for (const cut of [whole.length - 1, whole.indexOf(',') + 1, whole.indexOf(',') + 10, 1]) {
      assert.equal(isCompleteDocument(whole.slice(0, cut)), false, whole.slice(0, cut));
    }
    assert.equal(isCompleteDocument(msg('a').slice(0, -1)), false);
  });

  it('is false for empty or blank input', () => {
    assert.equal(isCompleteDocument(''), false);
    assert.equal(isCompleteDocument(' \n '), false);
  });
});

describe('operatorRequest', () => {
  const req = (text: string): Record<string, unknown> | undefined => operatorRequest(Buffer.from(text));

  it('returns a JSON object that has a control field', () => {
    assert.deepEqual(req('  {"control":"status","node":"a"}'), { control: 'status', node: 'a' });
  });

  it('reads the bytes of a Uint8Array view at its offset', () => {
    const bytes = Buffer.from('xxxx{"control":"queue"}yyyy');
    assert.deepEqual(operatorRequest(bytes.subarray(4, bytes.length - 4)), { control: 'queue' });
  });

  it('returns undefined for messages, arrays, broken JSON and YAML', () => {
    assert.equal(req(msg('a')), undefined);
    assert.equal(req('{"toNode":"a","data":["\\"control\\""]}'), undefined);
    assert.equal(req('[{"control":"status"}]'), undefined);
    assert.equal(req('{"control":"status"'), undefined);
    assert.equal(req('control: status'), undefined);
  });
});

describe('yamlDepth', () => {
  it('counts nested brackets', () => {
    assert.equal(yamlDepth(''), 0);
    assert.equal(yamlDepth('[[[]]]'), 3);
    assert.equal(yamlDepth('{"a":{"b":[1,{"c":2}]}}'), 4);
  });

  it('is at least the nesting of block YAML', () => {
    // A mapping holding a list holding a mapping holding a list: 4 levels.
    assert.ok(yamlDepth('a:\n  - b:\n      - c\n') >= 4);
    assert.ok(yamlDepth('- - - - x\n') >= 4);
  });

  it('goes down again when brackets close', () => {
    assert.equal(yamlDepth('[[1]] [[2]] [[3]]'), 2);
  });
});
