import type { IncomingMessage } from 'node:http';

/** The token of a request's `Authorization: Bearer <token>` header, or undefined. */
export function bearerOf(req: IncomingMessage): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
}
