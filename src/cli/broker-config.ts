import { CliError } from './client.js';
import { readKeyFolder } from './key-files.js';

/** What a node (not central) publishes on its own: errors, hellos, key rotations, and the replies central asks for. */
export const NODE_TO_CENTRAL = [
  'REQErrorLog.EventACK',
  'REQHello.EventNACK',
  'REQKeyRotate.EventACK',
  'REQToFileAppend.EventACK',
  'REQToFile.EventACK',
  'REQToConsole.EventACK',
  'REQPong.EventACK',
  'REQCopyFileTo.EventACK',
];

export interface BrokerConfigOptions {
  central: string;
  keys: string;
  relay?: boolean;
  listen?: string;
}

/**
 * `steward broker-config`: the least-privilege nats-server authorization for a fleet. Central
 * may publish to every node and receives only its own subjects; every other node receives only
 * its own subjects and ACK inbox, publishes only its replies, errors, hellos and key rotations
 * to central, and answers only the requests it received (`allow_responses`), so it can never
 * answer a request sent to another node.
 */
export function brokerConfig(nodes: readonly string[], o: BrokerConfigOptions): string {
  if (nodes.length === 0) throw new CliError('name the nodes: steward broker-config --central central --keys keys ship1 ship2', 2);
  const all = [o.central, ...nodes.filter((n) => n !== o.central)];
  const keys = readKeyFolder(o.keys, all);
  const list = (xs: readonly string[]): string => `[${xs.map((x) => JSON.stringify(x)).join(', ')}]`;
  const relay = o.relay === true;
  const centralSub = [`${o.central}.>`, `_INBOX.${o.central}.>`, ...(relay ? [`*.${o.central}.REQRelay.EventACK`] : [])];
  const lines = [
    `# Made by: steward broker-config --central ${o.central} --keys ${o.keys}${relay ? ' --relay' : ''} ${nodes.join(' ')}`,
    '# nats-server 2.9 or later. Add a tls { ... } block (docs/nats-server.md) before using it over a network.',
    `listen: ${o.listen ?? '0.0.0.0:4222'}`,
    '',
    'authorization {',
    '  users: [',
    `    # ${o.central}: may command every node; receives only its own subjects and ACK inbox`,
    `    { nkey: "${keys.get(o.central) as string}", permissions: { publish: { allow: ["*.>"] }, subscribe: { allow: ${list(centralSub)} } } }`,
  ];
  for (const node of all.slice(1)) {
    const publish = [...NODE_TO_CENTRAL.map((s) => `${o.central}.${s}`), ...(relay ? [`*.${o.central}.REQRelay.EventACK`] : [])];
    lines.push(
      `    # ${node}: receives only its own subjects; publishes to ${o.central} only, and answers only the requests it got`,
      `    { nkey: "${keys.get(node) as string}", permissions: { publish: { allow: ${list(publish)} }, subscribe: { allow: ${list([`${node}.>`, `_INBOX.${node}.>`])} }, allow_responses: true } }`,
    );
  }
  lines.push('  ]', '}', '');
  return lines.join('\n');
}
