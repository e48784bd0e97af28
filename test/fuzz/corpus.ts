import type { Message } from '../../src/message/message.js';

/**
 * What the generators start from: the names of the fuzzed nodes, seed messages (valid, as a
 * user writes them), seed wire messages (as a node publishes them), and dictionaries of
 * values that have broken parsers before: wrong types, extreme numbers, path traversal, YAML
 * oddities. Nothing here names a program that could harm the machine: the command seeds run
 * `echo`, and `makeSafe` keeps mutated messages to harmless programs, short-lived tails and
 * local URLs.
 */
export interface FuzzContext {
  readonly central: string;
  readonly target: string;
  /** A node that never runs: messages to it are stored and retried, never delivered. */
  readonly ghost: string;
  /** Folder (under the data folders) of the canaries: unguessable, so no fuzzed message writes there. */
  readonly canaryDir: string;
  readonly cliCanaryDir: string;
  /** Appears in the names that traversal attempts would create outside the data folders. */
  readonly escapeMarker: string;
  /** An absolute folder inside the sandbox but outside every node's folders. */
  readonly absEscape: string;
  /** A local port nothing listens on (REQHttpGet targets). */
  readonly closedPort: number;
  /** A file in the sandbox that does not exist (REQTailFile targets). */
  readonly missingFile: string;
  /**
   * How often a value is big (hundreds of KB to megabytes, or nested 100,000 levels deep):
   * 1 is the long run's rate. Big inputs cost the node seconds each, so short runs use fewer.
   */
  readonly bigRate: number;
  /** The run's start: the createdMs of wire messages (older ones are refused as replays). */
  readonly nowMs: number;
}

/** A message as a user writes it (seed field names). */
export type InputObject = Record<string, unknown>;

export function seedMessages(c: FuzzContext): InputObject[] {
  const t = c.target;
  return [
    {
      toNode: t,
      method: 'REQCliCommand',
      methodArgs: ['echo', 'fuzz'],
      replyMethod: 'REQToFileAppend',
      directory: 'fz/cli',
      fileName: 'cli.txt',
      ACKTimeout: 5,
      retries: 1,
      methodTimeout: 5,
    },
    {
      directory: '/var/cli/command_result/',
      fileName: 'some-file-name.result',
      toNode: t,
      method: 'REQCliCommand',
      methodArgs: ['echo', 'seed readme'],
      replyMethod: 'REQToFileAppend',
      ACKTimeout: 5,
      retries: 3,
      replyACKTimeout: 5,
      replyRetries: 3,
      methodTimeout: 10,
    },
    { toNode: t, method: 'REQToFileAppend', data: ['appended line\n'], directory: 'fz/append', fileName: 'a.txt' },
    { toNode: t, method: 'REQToFile', data: ['whole file\n'], directory: 'fz/file', fileName: 'f.txt' },
    { toNode: t, method: 'REQPing', replyMethod: 'REQPong', directory: 'fz/ping', fileName: 'ping.txt' },
    { toNode: c.central, method: 'REQHello', data: ['hello'], replyMethod: 'REQNone' },
    { toNode: c.central, method: 'REQErrorLog', data: ['fuzz error line'], replyMethod: 'REQNone' },
    { toNode: t, method: 'REQOpProcessList', directory: 'fz/op', fileName: 'list.txt', replyMethodTimeOut: 5 },
    { toNode: t, method: 'REQOpProcessStart', methodArgs: ['REQNone'], directory: 'fz/op', fileName: 'start.txt' },
    { toNode: t, method: 'REQTailFile', methodArgs: [c.missingFile], methodTimeout: 2, directory: 'fz/tail', fileName: 'tail.txt' },
    {
      toNode: t,
      method: 'REQHttpGet',
      methodArgs: [`http://127.0.0.1:${c.closedPort}/`],
      methodTimeout: 2,
      replyMethod: 'REQToFile',
      directory: 'fz/http',
      fileName: 'get.html',
    },
    { toNode: t, method: 'REQToConsole', data: ['to console\n'], replyMethod: 'REQNone' },
    { toNode: t, method: 'REQNone', replyMethod: 'REQNone' },
    { toNodes: [t, c.ghost, c.central], method: 'REQToFileAppend', data: ['fan-out\n'], directory: 'fz/fan', fileName: 'fan.txt' },
    { toNode: t, method: 'REQCliCommandCont', methodArgs: ['echo', 'cont'], methodTimeout: 3, directory: 'fz/cont', fileName: 'cont.txt' },
    { toNode: c.ghost, method: 'REQCliCommand', methodArgs: ['echo', 'never'], ACKTimeout: 1, retries: 1 },
    { toNode: c.ghost, method: 'REQOpProcessStop', methodArgs: ['REQToFileAppend'], ACKTimeout: 1, retries: 1 },
    {
      toNode: t,
      method: 'REQCopyFileFrom',
      methodArgs: ['/etc/hostname', c.central, 'data/fz-copy/hostname'],
      directory: 'fz/copy',
      fileName: 'copy.txt',
    },
    { toNode: c.central, method: 'REQCopyFileFrom', methodArgs: ['/etc/hostname', t, 'data/fz-copy/hostname', '1024'] },
    { toNode: t, method: 'REQCopyFileTo', methodArgs: ['chunk', 'data/fz-copy/x', 'copyid', '0', '0'], data: ['aGVsbG8='] },
    {
      toNode: t,
      method: 'REQCliCommand',
      methodArgs: ['echo', 'relayed'],
      relayViaNode: c.central,
      relayReplyMethod: 'REQToFileAppend',
      directory: 'fz/relay',
      fileName: 'relay.txt',
    },
    { toNode: t, method: 'REQnCliCommand', methodArgs: ['echo', 'typo'] },
    {
      toNode: t,
      method: 'REQCliCommand',
      methodArgs: ['echo', '{{STEWARD_DATA}}'],
      data: ['data'],
      replyMethod: 'REQCliCommand',
      replyMethodArgs: ['echo', '{{STEWARD_DATA}}'],
      directory: 'fz/chain',
      fileName: 'chain.txt',
    },
    {
      ToNode: t,
      METHOD: 'REQToFileAppend',
      Data: 'scalar data',
      RelayViaNode: '',
      relayReplyMethod: 'REQNone',
      id: 'ignored',
      fromNode: 'ignored',
      isReply: false,
    },
  ];
}

/** A wire message (what nodes publish) from `from` to the target, with `over` applied. */
export function wireMessage(c: FuzzContext, over: Partial<Message> = {}, id = '01J0000000000000000000FUZZ'): Message {
  return {
    id,
    toNode: c.target,
    fromNode: c.central,
    method: 'REQToFileAppend',
    methodArgs: [],
    replyMethod: 'REQNone',
    replyMethodArgs: [],
    isReply: false,
    data: ['wire\n'],
    ackTimeoutMs: 5000,
    retries: 1,
    replyAckTimeoutMs: 0,
    replyRetries: 0,
    methodTimeoutMs: 5000,
    replyMethodTimeoutMs: 0,
    directory: 'fz/wire',
    fileName: 'wire.txt',
    relayViaNode: '',
    relayReplyMethod: '',
    createdMs: c.nowMs,
    ...over,
  };
}

export function seedWireMessages(c: FuzzContext): Message[] {
  const req = wireMessage(c, { method: 'REQCliCommand', methodArgs: ['echo', 'wire'], replyMethod: 'REQToFileAppend' });
  const { data: _d, previousMessage: _p, ...prev } = req;
  return [
    wireMessage(c),
    req,
    wireMessage(c, { method: 'REQToFile', data: ['replaced\n'] }),
    wireMessage(c, { method: 'REQPing', replyMethod: 'REQNone' }),
    wireMessage(c, { method: 'REQHello', toNode: c.target, directory: '', fileName: '' }),
    wireMessage(c, { method: 'REQNone' }),
    wireMessage(c, { method: 'REQOpProcessList', replyMethod: 'REQNone' }),
    // A reply: its result path is built from previousMessage.
    wireMessage(c, {
      isReply: true,
      fromNode: c.target,
      toNode: c.target,
      data: ['reply\n'],
      fileName: '',
      previousMessage: { ...prev, toNode: c.target },
    }),
    wireMessage(c, { toNode: c.central, method: 'REQErrorLog', data: ['wire error'] }),
  ];
}

export const METHODS = [
  'REQCliCommand',
  'REQCliCommandCont',
  'REQTailFile',
  'REQHttpGet',
  'REQHello',
  'REQErrorLog',
  'REQPing',
  'REQPong',
  'REQToFile',
  'REQToFileAppend',
  'REQToConsole',
  'REQOpProcessList',
  'REQOpProcessStart',
  'REQOpProcessStop',
  'REQNone',
  'REQCopyFileFrom',
  'REQCopyFileTo',
  'REQRelay',
  'REQRelayInitial',
] as const;

export const KIND_OF: Record<string, string> = {
  REQCliCommand: 'CommandACK',
  REQCliCommandCont: 'CommandACK',
  REQTailFile: 'EventACK',
  REQHttpGet: 'EventACK',
  REQHello: 'EventNACK',
  REQErrorLog: 'EventACK',
  REQPing: 'EventACK',
  REQPong: 'EventACK',
  REQToFile: 'EventACK',
  REQToFileAppend: 'EventACK',
  REQToConsole: 'EventACK',
  REQOpProcessList: 'CommandACK',
  REQOpProcessStart: 'CommandACK',
  REQOpProcessStop: 'CommandACK',
  REQNone: 'EventACK',
  REQCopyFileFrom: 'EventACK',
  REQCopyFileTo: 'EventACK',
  REQRelay: 'EventACK',
  REQRelayInitial: 'EventACK',
};

export const FIELDS = [
  'toNode',
  'toNodes',
  'method',
  'methodArgs',
  'replyMethod',
  'replyMethodArgs',
  'data',
  'ACKTimeout',
  'retries',
  'replyACKTimeout',
  'replyRetries',
  'methodTimeout',
  'replyMethodTimeout',
  'directory',
  'fileName',
  'relayViaNode',
  'relayReplyMethod',
  'id',
  'fromNode',
  'isReply',
  'previousMessage',
] as const;

/** Paths that would leave the data folder if they were taken as they are. */
export function traversals(c: FuzzContext): string[] {
  const m = c.escapeMarker;
  return [
    '..',
    '../..',
    '../../..',
    '../../../..',
    '../../../../../../../../..',
    `../../../../${m}`,
    `../../../../../../../../../tmp/${m}`,
    `/tmp/${m}`,
    `${c.absEscape}/${m}`,
    c.absEscape,
    '/',
    '//',
    '/.',
    '/..',
    '.',
    './',
    '',
    '~',
    `~/${m}`,
    '..\\..\\..\\..',
    `..\\..\\..\\..\\${m}`,
    `a/../../../../${m}`,
    `a/./b/../../../../../${m}`,
    '....//....//',
    `..%2f..%2f${m}`,
    `%2e%2e/%2e%2e/${m}`,
    `\u0000../../../../${m}`,
    `..\u0000/..\u0000/${m}`,
    `\uff0e\uff0e/\uff0e\uff0e/${m}`,
    `..\u2215..\u2215${m}`,
    `${'../'.repeat(64)}${m}`,
    `${'a/'.repeat(200)}x`,
    'x'.repeat(255),
    'x'.repeat(256),
    `${'y'.repeat(300)}/z`,
    '/proc/self/fd/1',
    '/dev/null',
    `/dev/shm/${m}`,
    'CON',
    'nul:',
    'a:b',
    ' ',
    '\n',
    '\t..',
    '..\n',
    `${m}\u202e`,
  ];
}

/** Names a fuzzer may put where a node name goes. */
export function nodeNames(c: FuzzContext): string[] {
  return [
    c.target,
    c.central,
    c.ghost,
    '',
    ' ',
    'a',
    '-',
    '_',
    'x'.repeat(128),
    'x'.repeat(129),
    '..',
    '../x',
    'a.b',
    'a*',
    'a>',
    '*',
    '>',
    'ship 1',
    'ship\n1',
    'ship\u00001',
    'şhip',
    '𝔰𝔥𝔦𝔭',
    c.target.toUpperCase(),
    `${c.target} `,
    '$SYS',
    '_INBOX',
    'fuzzer',
  ];
}

export const NUMBERS: readonly number[] = [
  0,
  -0,
  1,
  -1,
  -2,
  2,
  1.5,
  -1.5,
  0.001,
  7,
  59,
  60,
  3600,
  86400,
  2147483,
  2147484,
  2 ** 31 - 1,
  2 ** 31,
  2 ** 32,
  2 ** 53 - 1,
  2 ** 53,
  2 ** 53 + 2,
  -(2 ** 53),
  1e15,
  1e21,
  1e300,
  Number.MAX_VALUE,
  Number.MIN_VALUE,
  -1e21,
];

/** Strings that mean something to YAML, shells, templates or path code. Never a real program name. */
export const STRINGS: readonly string[] = [
  '',
  ' ',
  'a',
  'null',
  'Null',
  '~',
  'true',
  'False',
  'on',
  'off',
  'NO',
  '.inf',
  '-.Inf',
  '.NaN',
  '0x1F',
  '0o17',
  '1e3',
  '-1',
  '12:30:00',
  '2001-12-14t21:59:43.10-05:00',
  '{{STEWARD_DATA}}',
  '{{STEWARD_DATA}}{{STEWARD_DATA}}',
  '{{',
  '}}',
  '%s%s%n',
  '$HOME',
  '$(true)',
  '`true`',
  ';true',
  '|true',
  '&& true',
  '\\',
  '"',
  "'",
  '\u0000',
  'a\u0000b',
  '\u0007\u001b[31m',
  '\ufeff',
  '\ud800',
  '\udfff',
  '\u202e',
  '\u2028',
  '\uffff',
  '😀',
  'ﷺ',
  'Ω'.repeat(50),
  '\r\n',
  '\n---\n',
  '- a',
  '? a',
  '& a',
  '* a',
  '!tag',
  '!!binary aGVsbG8=',
  '<<',
  '#',
  '%YAML 1.2',
  '@',
  '`',
  '|',
  '>',
  'REQ',
  'REQNone',
  'REQCliCommand',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'control',
];

/** Programs a mutated command may run: they exit at once and write nothing. */
const SAFE_PROGRAMS = new Set(['echo', 'true', 'false', 'printf', 'pwd', 'date', 'uname', 'id', 'env']);
const EXEC_METHODS = new Set(['REQCliCommand', 'REQCliCommandCont']);
const LONG_METHODS = new Set(['REQTailFile', 'REQCliCommandCont', 'REQHttpGet']);

/**
 * Keeps a fuzzed message harmless whatever it parses to (keys are matched without case, as
 * steward does; duplicated keys are all fixed): commands run only safe programs, long-running
 * methods stop within seconds, HTTP GETs go to a closed local port, tails follow a missing
 * file, and subscriber stops go to a node that does not exist (stopping a live node's
 * subscriber is legitimate and would only break the canaries). Works on the key/value pairs of
 * a message, in place.
 */
export function makeSafePairs(pairs: [string, unknown][], c: FuzzContext): void {
  const valuesOf = (...names: string[]): unknown[] => pairs.filter(([k]) => names.includes(k.toLowerCase())).map(([, v]) => v);
  const methods = valuesOf('method', 'replymethod', 'relayreplymethod', 'relayoriginalmethod').filter(
    (m): m is string => typeof m === 'string',
  );
  for (const p of valuesOf('previousmessage')) {
    if (p !== null && typeof p === 'object' && !Array.isArray(p)) {
      const rm = (p as Record<string, unknown>).replyMethod;
      if (typeof rm === 'string') methods.push(rm);
    }
  }
  const args = valuesOf('methodargs', 'replymethodargs').filter((a): a is unknown[] => Array.isArray(a));
  if (methods.some((m) => EXEC_METHODS.has(m))) {
    for (const a of args) if (a.length > 0 && !(typeof a[0] === 'string' && SAFE_PROGRAMS.has(a[0]))) a[0] = 'echo';
  }
  if (methods.includes('REQHttpGet')) {
    for (const a of args)
      if (a.length > 0)
        a[0] = `http://127.0.0.1:${c.closedPort}/${typeof a[0] === 'string' ? Buffer.from(a[0].slice(0, 50)).toString('hex') : ''}`;
  }
  if (methods.includes('REQTailFile')) for (const a of args) if (a.length > 0) a[0] = c.missingFile;
  // A copy writes where it is told, by design (relative to the node's folder): into its data folder here.
  const copyTo = (a: unknown): string => `data/fz-copy/f-${typeof a === 'string' ? a.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 60) : 'x'}`;
  if (methods.includes('REQCopyFileFrom')) for (const a of args) if (a.length > 2) a[2] = copyTo(a[2]);
  if (methods.includes('REQCopyFileTo')) for (const a of args) if (a.length > 1) a[1] = copyTo(a[1]);
  if (methods.some((m) => LONG_METHODS.has(m))) {
    let seen = false;
    for (const p of pairs) {
      const k = p[0].toLowerCase();
      if (k === 'methodtimeout' || k === 'replymethodtimeout') [p[1], seen] = [3, true];
      if (k === 'methodtimeoutms' || k === 'replymethodtimeoutms') [p[1], seen] = [3000, true];
    }
    if (!seen) pairs.push(['methodTimeout', 3]);
  }
  if (methods.includes('REQOpProcessStop')) {
    for (const p of pairs) if (['tonode', 'tonodes'].includes(p[0].toLowerCase())) p[1] = c.ghost;
    if (!pairs.some(([k]) => k.toLowerCase() === 'tonode')) pairs.push(['toNode', c.ghost]);
  }
}

/**
 * Why a message steward accepted from a fuzzed input would not be harmless (undefined: it is).
 * The last line of defence behind `makeSafe`: byte mutations made after it can still join the
 * fields of two messages into one (a stop's method and methodArgs with another message's
 * toNode, say), so every text input is also checked with steward's own parser before it is sent.
 */
export function unsafeReason(m: Message, c: FuzzContext): string | undefined {
  const method = m.relayOriginalMethod ?? m.method;
  const target = m.relayToNode ?? m.toNode;
  const methods = [method, m.replyMethod, m.relayReplyMethod];
  if (method === 'REQOpProcessStop' && target !== c.ghost) return `REQOpProcessStop to ${target}`;
  if (methods.some((x) => EXEC_METHODS.has(x))) {
    for (const a of [m.methodArgs, m.replyMethodArgs]) {
      if (a.length > 0 && !SAFE_PROGRAMS.has(a[0] as string)) return `a command runs ${JSON.stringify(a[0])}`;
    }
  }
  if (methods.includes('REQHttpGet')) {
    for (const a of [m.methodArgs, m.replyMethodArgs]) {
      if (a.length > 0 && !(a[0] as string).startsWith(`http://127.0.0.1:${c.closedPort}/`)) return `REQHttpGet of ${JSON.stringify(a[0])}`;
    }
  }
  if (methods.includes('REQTailFile')) {
    for (const a of [m.methodArgs, m.replyMethodArgs])
      if (a.length > 0 && a[0] !== c.missingFile) return `REQTailFile of ${JSON.stringify(a[0])}`;
  }
  const copyDest = method === 'REQCopyFileFrom' ? m.methodArgs[2] : method === 'REQCopyFileTo' ? m.methodArgs[1] : undefined;
  if (copyDest !== undefined && !/^data\/fz-copy\/f-[A-Za-z0-9_.-]*$/.test(copyDest)) return `a copy to ${JSON.stringify(copyDest)}`;
  if (LONG_METHODS.has(method) && (m.methodTimeoutMs < 0 || m.methodTimeoutMs > 3000)) return `${method} without a 3 s timeout`;
  if (
    [m.replyMethod, m.relayReplyMethod].some((x) => LONG_METHODS.has(x)) &&
    (m.replyMethodTimeoutMs < 0 || m.replyMethodTimeoutMs > 3000)
  ) {
    return 'a long-running reply method without a 3 s timeout';
  }
  return undefined;
}

/** makeSafePairs on an object, in place. */
export function makeSafe(o: Record<string, unknown>, c: FuzzContext): void {
  const pairs = Object.entries(o);
  makeSafePairs(pairs, c);
  for (const k of Object.keys(o)) delete o[k];
  for (const [k, v] of pairs) put(o, k, v);
}

/** Sets an own property, also `__proto__` (which plain assignment would take as the prototype). */
export function put(o: Record<string, unknown>, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}
