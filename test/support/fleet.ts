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
  const started = await Promise.allSettled(
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
  const failed = started.find((s) => s.status === 'rejected');
  if (failed !== undefined) {
    // The nodes that did start would keep the test process alive: they go too.
    const up = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    await Promise.allSettled(up.map((n) => n.kill9()));
    await nats.close();
    for (const n of up) n.cleanup();
    throw failed.reason;
  }
  const nodes = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  return {
    nats,
    nodes,
    close: async () => {
      // Every node is stopped and every folder removed even when one node did not stop cleanly;
      // then that is thrown (see StewardProcess.stop).
      const stops = await Promise.allSettled(nodes.map((n) => n.stop()));
      await nats.close();
      for (const n of nodes) n.cleanup();
      const unclean = stops.flatMap((s) => (s.status === 'rejected' ? [(s.reason as Error).message] : []));
      if (unclean.length > 0) throw new Error(unclean.join('\n\n'));
    },
  };
}
