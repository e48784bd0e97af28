import type { Server } from 'node:net';

/**
 * Closes a listener now: stops accepting, ends the connections it holds (idle keep-alive ones
 * included, which `close()` alone would wait for), and resolves once it is closed.
 */
export async function closeServer(server: Server & { closeAllConnections(): void }): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
}
