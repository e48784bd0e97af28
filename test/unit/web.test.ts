import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newMessage } from '../../src/message/message.js';
import { inputOfTemplate } from '../../src/web/control-call.js';
import { byteRange, contentType, segmentsOf } from '../../src/web/data-folder.js';
import { keeps, parseErrorLine } from '../../src/web/error-tail.js';
import { MAX_FAILURES_PER_MINUTE, SESSION_MS, Sessions } from '../../src/web/sessions.js';

const TOKEN = 'the-operator-token-of-this-node-0123456789';

describe('web console sessions', () => {
  it('opens a session for the token only, with a CSRF token, and ends it at logout', () => {
    const s = new Sessions(TOKEN);
    assert.deepEqual(s.login('wrong', '10.0.0.1'), { ok: false, limited: false });
    const r = s.login(TOKEN, '10.0.0.1');
    assert.ok(r.ok);
    const back = s.check(r.cookie);
    assert.equal(back?.id, r.session.id);
    assert.ok(s.csrfMatches(r.session, r.session.csrf));
    assert.ok(!s.csrfMatches(r.session, undefined));
    assert.ok(!s.csrfMatches(r.session, 'x'.repeat(43)));
    s.logout(r.session);
    assert.equal(s.check(r.cookie), undefined);
  });

  it('refuses a forged or altered cookie', () => {
    const s = new Sessions(TOKEN);
    const r = s.login(TOKEN, '10.0.0.1');
    assert.ok(r.ok);
    const [id, exp, mac] = r.cookie.split('.') as [string, string, string];
    assert.equal(s.check(`${id}.${Number(exp) + 1000}.${mac}`), undefined);
    assert.equal(s.check(`${'A'.repeat(43)}.${exp}.${mac}`), undefined);
    assert.equal(s.check('garbage'), undefined);
  });

  it('takes a session back after a restart (the same token), not after the token changed', () => {
    const r = new Sessions(TOKEN).login(TOKEN, '10.0.0.1');
    assert.ok(r.ok);
    const again = new Sessions(TOKEN).check(r.cookie);
    assert.equal(again?.csrf, r.session.csrf);
    assert.equal(new Sessions(`${TOKEN}-new`).check(r.cookie), undefined);
  });

  it('expires a session unused for 12 hours, and slides while it is used', () => {
    let now = 1_000_000;
    const s = new Sessions(TOKEN, { now: () => now });
    const r = s.login(TOKEN, '10.0.0.1');
    assert.ok(r.ok);
    now += SESSION_MS - 1000;
    assert.ok(s.check(r.cookie));
    now += SESSION_MS - 1000; // slid at the last check; the cookie's own expiry is not asked while the session lives
    assert.ok(s.check(r.cookie));
    now += SESSION_MS + 1;
    assert.equal(s.check(r.cookie), undefined);
  });

  it('refuses logins from an address after 10 failures in a minute, then takes them again', () => {
    let now = 0;
    const s = new Sessions(TOKEN, { now: () => now });
    for (let i = 0; i < MAX_FAILURES_PER_MINUTE; i++) assert.deepEqual(s.login('wrong', '10.0.0.9'), { ok: false, limited: false });
    assert.deepEqual(s.login(TOKEN, '10.0.0.9'), { ok: false, limited: true });
    assert.ok(s.login(TOKEN, '10.0.0.8').ok, 'another address is not held');
    now += 60_001;
    assert.ok(s.login(TOKEN, '10.0.0.9').ok);
  });
});

describe('the data folder server', () => {
  it('reads one byte range, the whole file for none or several, and says when a range is past the end', () => {
    assert.deepEqual(byteRange('bytes=0-3', 10), [0, 3]);
    assert.deepEqual(byteRange('bytes=4-', 10), [4, 9]);
    assert.deepEqual(byteRange('bytes=-3', 10), [7, 9]);
    assert.deepEqual(byteRange('bytes=5-100', 10), [5, 9]);
    assert.equal(byteRange(undefined, 10), undefined);
    assert.equal(byteRange('bytes=0-1,4-5', 10), undefined);
    assert.equal(byteRange('bytes=10-', 10), 'unsatisfiable');
    assert.equal(byteRange('bytes=5-2', 10), 'unsatisfiable');
    assert.equal(byteRange('bytes=-0', 10), 'unsatisfiable');
  });

  it('refuses paths that climb, encoded or not', () => {
    for (const p of ['/../x', '/a/%2e%2e/b', '/a/%2E%2E', '/a/..%2fb', '/a/%5c..', '/a/%00', '/./a', '/a/%zz']) {
      assert.throws(() => segmentsOf(p), /path|percent/, p);
    }
    assert.deepEqual(segmentsOf('/dir/some%20file.txt?x=1'), ['dir', 'some file.txt']);
    assert.deepEqual(segmentsOf('//etc/passwd'), ['etc', 'passwd']);
  });

  it('gives content types from the extension', () => {
    assert.equal(contentType('a/out.txt'), 'text/plain; charset=utf-8');
    assert.equal(contentType('x.JSON'), 'application/json');
    assert.equal(contentType('archive.tar.gz'), 'application/gzip');
    assert.equal(contentType('binary'), 'application/octet-stream');
  });
});

describe('the console API helpers', () => {
  it('parses error lines and filters them by node and text', () => {
    const l = parseErrorLine('2026-12-06T09:31:02.114Z, node: ship1, error: REQCliCommand: command exited with code 2');
    assert.deepEqual(l, { time: '2026-12-06T09:31:02.114Z', node: 'ship1', text: 'error: REQCliCommand: command exited with code 2' });
    assert.ok(keeps(l, 'ship1', 'EXITED'));
    assert.ok(!keeps(l, 'ship2', ''));
    assert.ok(!keeps(l, '', 'timeout'));
  });

  it('turns a job template back into input in the seed units, for the failed nodes, as a job', () => {
    const t = newMessage({
      toNode: '',
      fromNode: 'central',
      method: 'REQCliCommand',
      methodArgs: ['df', '-h'],
      ackTimeoutMs: 5000,
      retries: 3,
      methodTimeoutMs: -1,
      directory: 'd',
      fileName: 'f',
    });
    const input = inputOfTemplate(t, ['ship2']);
    assert.deepEqual(
      { ...input, replyMethod: undefined },
      {
        toNodes: ['ship2'],
        where: {},
        method: 'REQCliCommand',
        methodArgs: ['df', '-h'],
        replyMethod: undefined,
        replyMethodArgs: [],
        ACKTimeout: 5,
        retries: 3,
        methodTimeout: -1,
        directory: 'd',
        fileName: 'f',
      },
    );
  });
});
