import { NatsServer } from './nats-server.js';
import { StewardProcess } from './steward.js';

/** A real nats-server and steward nodes on it, started together and cleaned up together. */
export interface Fleet {
  readonly nats: NatsServer;
  /** In the order given to startFleet. */
  readonly nodes: StewardProcess[];
  close(): Promise<void>;
}

/**
 * Starts a broker and the named nodes (the first one is the central node unless `central` says
 * otherwise). `flags` go to every node, `flagsFor[name]` to one, `policyFor[name]` is its policy.toml.
 */
export async function startFleet(
  names: string[],
  opts: {
    central?: string;
    flags?: string[];
    flagsFor?: Record<string, string[]>;
    /** policy.toml text per node (written into its config folder before it starts). */
    policyFor?: Record<string, string>;
    natsArgs?: string[];
  } = {},
): Promise<Fleet> {
  const nats = await NatsServer.start(opts.natsArgs ?? []);
  const central = opts.central ?? names[0] ?? 'central';
  const nodes = await Promise.all(
    names.map((name) =>
      StewardProcess.start({
        name,
        central,
        brokerUrl: `127.0.0.1:${nats.port}`,
        flags: [...(opts.flags ?? []), ...(opts.flagsFor?.[name] ?? [])],
        ...(opts.policyFor?.[name] === undefined ? {} : { policy: opts.policyFor[name] }),
      }),
    ),
  );
  return {
    nats,
    nodes,
    close: async () => {
      await Promise.all(nodes.map((n) => n.stop()));
      await nats.close();
      for (const n of nodes) n.cleanup();
    },
  };
}
