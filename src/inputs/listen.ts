import type net from 'node:net';
import type { ListenAddress } from '../config/listen.js';

/**
 * Listens on `addr` (an http.Server is a net.Server too) and resolves with the bound `host:port`;
 * rejects with a clear error (address in use, no such address) instead of crashing.
 */
export function listen(server: net.Server, flag: string, addr: ListenAddress): Promise<string> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const why =
        err.code === 'EADDRINUSE' ? 'the address is already in use' : err.code === 'EADDRNOTAVAIL' ? 'no such local address' : err.message;
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
