import type net from 'node:net';

/** A `host:port` listener address from a flag. */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * Parses the `host:port` of `-tcpListener` / `-httpListener` (`[::1]:8080` for IPv6). The host is
 * required: the listener binds exactly what the flag says, and the docs recommend localhost.
 */
export function parseListenAddress(flag: string, value: string): ListenAddress {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(value) ?? /^([^:\s]+):(\d+)$/.exec(value);
  const port = m === null ? NaN : Number(m[2]);
  if (m === null || !Number.isInteger(port) || port > 65535) {
    throw new Error(`-${flag} ${JSON.stringify(value)}: give host:port, e.g. localhost:8090`);
  }
  return { host: m[1] as string, port };
}

/**
 * Listens on `addr` (an http.Server is a net.Server too) and resolves with the bound `host:port`;
 * rejects with a clear error (address in use, no such address) instead of crashing.
 */
export function listen(server: net.Server, flag: string, addr: ListenAddress): Promise<string> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const why = err.code === 'EADDRINUSE' ? 'the address is already in use' : err.code === 'EADDRNOTAVAIL' ? 'no such local address' : err.message;
      reject(new Error(`-${flag} ${addr.host}:${addr.port}: cannot listen: ${why}`));
    };
    server.once('error', onError);
    server.listen(addr.port, addr.host, () => {
      server.off('error', onError);
      const a = server.address();
      resolve(a !== null && typeof a === 'object' ? `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}` : String(a));
    });
  });
}
