import { sleep } from '../support/eventually.js';
import { rssBytes, type World } from './world.js';

/** A node that stopped while the chaos had not taken it down. */
export interface Crash {
  readonly node: string;
  readonly iteration: number;
  readonly exit: string;
  readonly logTail: string;
}

/**
 * Watches the nodes between and during iterations: a node that is not running while the chaos
 * did not take it down crashed on its own (it is recorded and started again); RSS is sampled
 * every second.
 */
export class Monitor {
  readonly crashes: Crash[] = [];
  readonly maxRss = new Map<string, number>();
  iteration = 0;
  iterationMaxRss = 0;
  private running = true;
  private readonly loop: Promise<void>;

  constructor(private readonly world: World) {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    let ticks = 0;
    while (this.running) {
      for (const [name, n] of this.world.nodes) {
        if (n.running || this.world.down.has(name)) continue;
        const e = n.exit;
        this.crashes.push({
          node: name,
          iteration: this.iteration,
          exit: e === undefined ? 'never started' : e.signal !== null ? `signal ${e.signal}` : `code ${e.code}`,
          logTail: n.stderr.slice(-3000),
        });
        this.world.down.add(name);
        void this.world.restart(name).catch(() => {});
      }
      if (ticks++ % 4 === 0) {
        for (const [name, n] of this.world.nodes) {
          const rss = n.running ? rssBytes(n.pid) : undefined;
          if (rss === undefined) continue;
          this.maxRss.set(name, Math.max(this.maxRss.get(name) ?? 0, rss));
          this.iterationMaxRss = Math.max(this.iterationMaxRss, rss);
        }
      }
      await sleep(250);
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}
