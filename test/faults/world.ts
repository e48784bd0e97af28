import fs from 'node:fs';
import { eventually, sleep } from '../support/eventually.js';
import { FaultyLink } from '../support/faulty-link.js';
import { ConfiguredNatsServer, type NatsPorts } from '../support/nats-configured.js';
import { NatsServer } from '../support/nats-server.js';
import { StewardProcess } from '../support/steward.js';
import { childrenOf, spawnHelpersOf } from '../support/procs.js';
import type { Flow } from './schedule.js';

/** A broker the chaos can stop and start again where it was. */
export interface Broker {
  readonly name: string;
  readonly port: number;
  stop(hard: boolean): Promise<void>;
  /** Starts it again on the same ports. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

function single(s: NatsServer): Broker {
  return {
    name: 'nats',
    get port() {
      return s.port;
    },
    stop: (hard) => s.stop(hard),
    restart: () => s.restart(),
    close: () => s.close(),
  };
}

function configured(s: ConfiguredNatsServer): Broker {
  return {
    name: s.name,
    get port() {
      return s.ports.client;
    },
    stop: (hard) => s.stop(hard),
    restart: () => s.restart(),
    close: () => s.close(),
  };
}

/**
 * One server of a three-server cluster. `no_advertise` keeps the servers from telling clients
 * about each other, so a node only ever dials the URLs it was given: its own links, which the
 * chaos can cut.
 */
function clusterConfig(name: string, routes: number[]): (p: NatsPorts) => string {
  return (p) => `server_name: ${name}
listen: 127.0.0.1:${p.client}
cluster {
  name: chaos
  listen: 127.0.0.1:${p.cluster}
  no_advertise: true
  routes: [${routes.map((r) => `nats-route://127.0.0.1:${r}`).join(', ')}]
}
`;
}

/** Flags every chaos node runs with (the rest are the defaults a user gets). */
export const NODE_FLAGS = [
  // Hellos let a sender hear that a node is back before the ACK timeout of its attempt ends.
  '-startPubREQHello=5',
  // Error lines (interrupted, max retries) must reach central even when central was down for a
  // while: short attempts, never given up.
  '-errorMessageTimeout=5',
  '-errorMessageRetries=-1',
];

/**
 * The policy.toml of each node that takes commands from another sender than central (the default
 * rules let only central command a node): each such flow is allowed its REQCliCommand.
 */
export function flowPolicies(flows: readonly Flow[], central: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of flows) {
    if (f.from === central) continue;
    out[f.to] = `${out[f.to] ?? ''}
[[rule]]
name = "the chaos flow ${f.from} -> ${f.to}"
from = ["${f.from}"]
methods = ["REQCliCommand"]
action = "allow"
`;
  }
  return out;
}

/** The brokers, the nodes, and the link each node has to each broker. */
export class World {
  /** Set while the chaos has a node down on purpose (killed or stopped, not yet restarted). */
  readonly down = new Set<string>();

  private constructor(
    readonly brokers: Broker[],
    readonly nodes: Map<string, StewardProcess>,
    readonly links: Map<string, FaultyLink[]>,
  ) {}

  /** `policyFor`: policy.toml text by node name. */
  static async start(
    names: readonly string[],
    central: string,
    opts: { cluster: boolean; policyFor?: Record<string, string> },
  ): Promise<World> {
    const brokers: Broker[] = [];
    if (opts.cluster) {
      const a = await ConfiguredNatsServer.start('A', clusterConfig('A', []), { cluster: true });
      const b = await ConfiguredNatsServer.start('B', clusterConfig('B', [a.ports.cluster]), { cluster: true });
      const c = await ConfiguredNatsServer.start('C', clusterConfig('C', [a.ports.cluster, b.ports.cluster]), { cluster: true });
      brokers.push(configured(a), configured(b), configured(c));
    } else {
      brokers.push(single(await NatsServer.start()));
    }
    const links = new Map<string, FaultyLink[]>();
    const nodes = new Map<string, StewardProcess>();
    for (const name of names) {
      const ls = await Promise.all(brokers.map((b) => FaultyLink.start(b.port)));
      links.set(name, ls);
      const policy = opts.policyFor?.[name];
      nodes.set(
        name,
        new StewardProcess({
          name,
          central,
          brokerUrl: ls.map((l) => l.url).join(','),
          flags: NODE_FLAGS,
          ...(policy === undefined ? {} : { policy }),
        }),
      );
    }
    const w = new World(brokers, nodes, links);
    await Promise.all([...nodes.values()].map((n) => n.start()));
    return w;
  }

  node(name: string): StewardProcess {
    const n = this.nodes.get(name);
    if (n === undefined) throw new Error(`no node ${name}`);
    return n;
  }

  linksOf(name: string): FaultyLink[] {
    return this.links.get(name) ?? [];
  }

  async kill(name: string): Promise<void> {
    this.down.add(name);
    await this.node(name).kill9();
  }

  /** kill-helper faults: how many killed a helper while it ran commands, while it ran none, how many found no helper. */
  readonly helperKills = { busy: 0, idle: 0, none: 0 };

  /**
   * kill -9 of the node's spawn helper (counted in helperKills). Commands here last milliseconds,
   * so the fault waits, up to 3 s, for a moment when the helper runs one.
   */
  async killHelper(name: string): Promise<void> {
    const deadline = Date.now() + 3000;
    for (;;) {
      const pids = spawnHelpersOf(this.node(name).pid);
      const busy = pids.some((p) => childrenOf(p).length > 0);
      if (busy || Date.now() >= deadline) {
        for (const pid of pids) process.kill(pid, 'SIGKILL');
        if (pids.length === 0) this.helperKills.none++;
        else if (busy) this.helperKills.busy++;
        else this.helperKills.idle++;
        return;
      }
      await sleep(10);
    }
  }

  async stop(name: string): Promise<void> {
    this.down.add(name);
    await this.node(name).stop();
  }

  /** Starts a node again in its folder; it need not reach the broker yet (its link may be cut). */
  async restart(name: string): Promise<void> {
    await this.node(name).start({ waitConnected: false });
    this.down.delete(name);
  }

  /** Waits until every node has (re)subscribed since its last start and is connected now. */
  async allConnected(timeoutMs: number): Promise<void> {
    await eventually(() => [...this.nodes.values()].every((n) => n.running && connectedNow(n)), {
      what: 'every node connected to the broker',
      timeoutMs,
      intervalMs: 200,
    });
  }

  /** Stops everything; the nodes' folders stay until cleanup(). */
  async close(): Promise<void> {
    // A node that crashed or stopped uncleanly is reported by the monitor and the final stop pass.
    await Promise.allSettled([...this.nodes.values()].map((n) => n.stop()));
    for (const ls of this.links.values()) for (const l of ls) await l.close();
    await Promise.all(this.brokers.map((b) => b.close()));
  }

  cleanup(): void {
    for (const n of this.nodes.values()) n.cleanup();
  }
}

/** The node's last connection event in its log is a (re)connect, not a disconnect. */
function connectedNow(n: StewardProcess): boolean {
  const log = n.stderr;
  const up = Math.max(log.lastIndexOf('"msg":"connected to the broker"'), log.lastIndexOf('"msg":"reconnected to the broker"'));
  const down = Math.max(log.lastIndexOf('"msg":"disconnected from the broker'), log.lastIndexOf('"msg":"steward started"'));
  return up > down;
}

/** RSS of a process in bytes, from /proc (undefined when it is gone). */
export function rssBytes(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? undefined : Number(m[1]) * 1024;
  } catch {
    return undefined;
  }
}
