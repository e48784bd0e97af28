import type { ProcessInfo, Processes } from '../methods/method.js';
import type { Delivery } from './delivery.js';
import type { Receiver } from './receiver.js';

/** The node's processes as the REQOpProcess methods see them: subscribers, and publishers delivering now. */
export function nodeProcesses(methods: readonly string[], receiver: () => Receiver, delivery: Pick<Delivery, 'publishers'>): Processes {
  return {
    methods,
    list: () => {
      const publishers: ProcessInfo[] = delivery.publishers().map((p) => ({ kind: 'publisher', subject: `${p.node}.*`, id: p.id }));
      const rank = (p: ProcessInfo): number => (p.kind === 'subscriber' ? 0 : 1);
      return [...receiver().list(), ...publishers].sort(
        (a, b) => rank(a) - rank(b) || (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : 0),
      );
    },
    start: (method) => receiver().start(method),
    stop: (method) => receiver().stop(method),
    subscriber: (method) => receiver().subscriber(method),
  };
}
