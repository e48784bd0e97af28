import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parse as parseToml } from 'smol-toml';

/** An operator command's error: one short line that says what to do. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/**
 * The socket of the node in this folder: `--socket`, else the SocketFolder of
 * `$CONFIG_FOLDER/config.toml`, else `./tmp/steward.sock`.
 */
export function socketPath(given: string | undefined): string {
  if (given !== undefined) return given;
  try {
    const cfg = parseToml(fs.readFileSync(path.join(process.env.CONFIG_FOLDER ?? './etc/', 'config.toml'), 'utf8'));
    if (typeof cfg.SocketFolder === 'string' && cfg.SocketFolder !== '') return path.join(cfg.SocketFolder, 'steward.sock');
  } catch {
    // No config here: the default folder.
  }
  return path.join('./tmp', 'steward.sock');
}

/** A connection to the daemon: send one request, read JSON lines as they come. */
export class DaemonConnection {
  private constructor(
    private readonly conn: net.Socket,
    private readonly lines: AsyncGenerator<Record<string, unknown>>,
  ) {}

  static async open(socket: string, request: object): Promise<DaemonConnection> {
    const conn = await new Promise<net.Socket>((resolve, reject) => {
      const c = net.connect(socket);
      c.once('connect', () => resolve(c));
      c.once('error', (err: NodeJS.ErrnoException) => reject(connectError(socket, err)));
    });
    conn.end(JSON.stringify(request));
    return new DaemonConnection(conn, readLines(conn));
  }

  [Symbol.asyncIterator](): AsyncGenerator<Record<string, unknown>> {
    return this.lines;
  }

  close(): void {
    this.conn.destroy();
  }
}

/** Sends one request and returns the single answer (an error answer becomes a CliError). */
export async function ask(socket: string, request: object): Promise<Record<string, unknown>> {
  const c = await DaemonConnection.open(socket, request);
  for await (const line of c) {
    c.close();
    if (line.status === 'error' && typeof line.error === 'string') throw new CliError(line.error);
    return line;
  }
  throw new CliError('the daemon closed the connection without an answer; see its log');
}

/** The daemon's answer lines, as they come (readline decodes UTF-8 across chunks). */
async function* readLines(conn: net.Socket): AsyncGenerator<Record<string, unknown>> {
  const lines = createInterface({ input: conn, crlfDelay: Infinity });
  for await (const raw of lines) {
    const line = raw.trim();
    if (line !== '') yield JSON.parse(line) as Record<string, unknown>;
  }
}

function connectError(socket: string, err: NodeJS.ErrnoException): CliError {
  if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') {
    return new CliError(`no steward daemon at ${socket}: is the daemon running in this folder? (start it here, or give --socket <path>)`);
  }
  if (err.code === 'EACCES') return new CliError(`not allowed to use ${socket}: run as the user of the daemon`);
  return new CliError(`cannot reach the daemon at ${socket}: ${err.message}`);
}
