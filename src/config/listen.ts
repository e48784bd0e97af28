import net from 'node:net';
import { UsageError } from './flags.js';

/** Where a listener binds: a host (name or IP) and a TCP port. */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** What an empty host (`:12112`, as in the seed's example) binds to: localhost, never every interface. */
export const DEFAULT_LISTEN_HOST = '127.0.0.1';

/**
 * Parses a `host:port` flag value (`127.0.0.1:2112`, `localhost:2112`, `[::1]:2112`, `:2112`).
 * Empty means off (undefined). An empty host means localhost: a listener is opened on other
 * interfaces only when the value names them (`0.0.0.0:2112`).
 */
export function parseListenAddress(flag: string, value: string): ListenAddress | undefined {
  const v = value.trim();
  if (v === '') return undefined;
  const bad = (why: string): UsageError =>
    new UsageError(`-${flag}="${value}": ${why}; give host:port, e.g. -${flag}=127.0.0.1:2112 (empty = off)`);
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(v);
  if (m === null) throw bad('not host:port');
  const host = m[1] ?? m[2] ?? '';
  if (m[1] !== undefined && net.isIPv6(host) === false) throw bad(`${host} is not an IPv6 address`);
  const port = Number(m[3]);
  if (port < 1 || port > 65535) throw bad(`port ${port} is out of range 1-65535`);
  return { host: host === '' ? DEFAULT_LISTEN_HOST : host, port };
}
