import type { NkeyUser } from './pki.js';

/**
 * The methods a node sends to central on its own: errors, hellos, and the reply methods central
 * uses. Not REQCliCommand: a node must not run commands on central (docs/nats-server.md).
 */
export const TO_CENTRAL = [
  'REQErrorLog.EventACK',
  'REQHello.EventNACK',
  'REQToFileAppend.EventACK',
  'REQToFile.EventACK',
  'REQToConsole.EventACK',
  'REQPong.EventACK',
];

/** Subjects added to one user's lists (relaying, docs/nats-server.md). */
export interface ExtraRights {
  publish?: string[];
  subscribe?: string[];
}

/**
 * The authorization block of docs/nats-server.md: central may publish to every node, receives
 * only its own subjects; each node receives only its own subjects and ACK inbox, and publishes
 * only to central's reply/error/hello subjects and ACK answers (`_INBOX.>`, or only to the
 * inboxes of requests it received with `allowResponses`). `extra` adds rights per user name.
 */
export function authorization(
  central: NkeyUser,
  nodes: Record<string, NkeyUser>,
  { allowResponses = false, extra = {} }: { allowResponses?: boolean; extra?: Record<string, ExtraRights> } = {},
): string {
  const list = (xs: string[]): string => `[${xs.map((x) => JSON.stringify(x)).join(', ')}]`;
  const centralSub = ['central.>', '_INBOX.central.>', ...(extra.central?.subscribe ?? [])];
  const users = [
    `{ nkey: "${central.publicKey}", permissions: { publish: { allow: ["*.>"] }, subscribe: { allow: ${list(centralSub)} } } }`,
    ...Object.entries(nodes).map(([name, u]) => {
      const publish = TO_CENTRAL.map((s) => `central.${s}`)
        .concat(allowResponses ? [] : ['_INBOX.>'])
        .concat(extra[name]?.publish ?? []);
      const subscribe = [`${name}.>`, `_INBOX.${name}.>`, ...(extra[name]?.subscribe ?? [])];
      const responses = allowResponses ? ', allow_responses: true' : '';
      return `{ nkey: "${u.publicKey}", permissions: { publish: { allow: ${list(publish)} }, subscribe: { allow: ${list(subscribe)} }${responses} } }`;
    }),
  ];
  return `authorization {\n  users: [\n    ${users.join('\n    ')}\n  ]\n}\n`;
}
