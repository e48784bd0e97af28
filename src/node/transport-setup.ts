import type { Logger } from 'pino';
import type { ResolvedConfig } from '../config/load.js';
import type { NkeyPair } from '../trust/nkey.js';
import { NatsTransport } from '../transport/nats.js';

/** The node's broker connection as configured: its servers, timeouts, TLS, and with -nkeySeedFile its key. */
export function natsTransport(cfg: ResolvedConfig, identity: NkeyPair, logger: Logger): NatsTransport {
  return new NatsTransport({
    servers: cfg.brokerServers,
    nodeName: cfg.nodeName,
    connectTimeoutMs: cfg.connectTimeoutMs,
    connectRetryIntervalMs: cfg.connectRetryIntervalMs,
    reconnectJitterMs: cfg.reconnectJitterMs,
    reconnectJitterTlsMs: cfg.reconnectJitterTlsMs,
    tls: cfg.tls,
    nkeySeed: cfg.nkeySeedFile === undefined ? undefined : new TextEncoder().encode(identity.seedText),
    logger,
  });
}
