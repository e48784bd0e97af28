import type { ResolvedConfig } from '../config/load.js';
import { Control } from './control.js';
import { fleetControl } from './fleet-control.js';
import { keysControl } from './keys-control.js';
import type { StewardNode } from './node.js';
import { rotateOwnKey } from './rotation.js';

/** The operator requests of a node (`steward send|nodes|queue|status|cancel|keys ...`), wired to its parts. */
export function controlOf(node: StewardNode, cfg: ResolvedConfig): Control {
  const control: Control = new Control({
    accept: node.accept,
    watch: (ids, listener) => node.watchers.watch(ids, listener),
    helloIntervalMs: cfg.helloIntervalMs,
    nodes: () => node.nodes.all(),
    queue: () => ({ summary: node.outbox.summary(), inFlight: node.delivery.inFlight() }),
    sent: (id) => node.outbox.get(id),
    received: (id) => node.inbox.record(id),
    flight: (id) => node.delivery.flight(id),
    pendingIdsTo: (to) => node.outbox.pendingIdsTo(to),
    cancel: (ids) => node.outgoing.cancel(ids),
    watchJobs: (jobs, listener) => node.watchers.watchJobs(jobs, listener),
    more: {
      ...fleetControl({
        fleet: node.fleet,
        watchJobs: (jobs, listener) => node.watchers.watchJobs(jobs, listener),
        follow: (ch) => control.follow(ch),
      }),
      ...keysControl({
        keyring: node.trusted.keyring,
        self: { name: cfg.nodeName, publicKey: () => node.trusted.proofs.publicKey },
        mode: cfg.trustNewKeys,
        trustOn: cfg.trust,
        rotate: (to) =>
          rotateOwnKey({ cfg, ...node.trusted, sendAndWait: (m) => node.outgoing.sendAndWait(m, node.executor.stopSignal) }, to),
      }),
    },
  });
  return control;
}
