import { ask, socketPath } from './client.js';
import { time } from './format.js';

interface Sent {
  toNode: string;
  method: string;
  methodArgs: string[];
  state: string;
  attempts: number;
  acceptedMs: number;
  finishedMs: number | null;
  lastError: string | null;
  nextTryMs: number | null;
}

/** `steward status <id>`: what this node knows of one message: sent, delivered, replied. */
export async function status(id: string, o: { socket?: string; json: boolean }): Promise<number> {
  const a = await ask(socketPath(o.socket), { control: 'status', id });
  if (o.json) {
    process.stdout.write(`${JSON.stringify(a)}\n`);
    return 0;
  }
  const lines: string[] = [`id        ${id}`];
  const sent = a.sent as Sent | null;
  if (sent !== null) {
    lines.push(
      `message   ${sent.method} to ${sent.toNode} ${JSON.stringify(sent.methodArgs)}`,
      `accepted  ${time(sent.acceptedMs)}`,
      `attempts  ${sent.attempts}${sent.lastError ? ` (last error: ${sent.lastError})` : ''}`,
      `state     ${sent.state}${sent.finishedMs !== null ? ` at ${time(sent.finishedMs)}` : ''}${sent.state === 'pending' && sent.nextTryMs !== null ? `, next attempt at ${time(sent.nextTryMs)}` : ''}`,
    );
  }
  const reply = a.reply as { node: string; method: string; receivedMs: number; state: string } | null;
  if (reply !== null) lines.push(`reply     from ${reply.node} at ${time(reply.receivedMs)}, handled by ${reply.method} (${reply.state})`);
  else if (sent !== null) lines.push('reply     none yet');
  const received = a.received as { fromNode: string; method: string; receivedMs: number; state: string } | null;
  if (received !== null)
    lines.push(`received  from ${received.fromNode} at ${time(received.receivedMs)}, ${received.method} ${received.state}`);
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
