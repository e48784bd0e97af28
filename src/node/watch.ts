/**
 * What an operator waiting on messages hears about them (`steward send`): delivery, the reply,
 * errors the remote node reported about it, or the end of its delivery.
 */
export type WatchEvent =
  | { event: 'delivered'; id: string; toNode: string }
  | { event: 'reply'; id: string; node: string; replyMethod: string; data: string }
  | { event: 'error'; id: string; node: string; text: string }
  | { event: 'failed'; id: string; toNode: string; error: string }
  | { event: 'cancelled'; id: string; toNode: string };

type Listener = (ev: WatchEvent) => void;

/** Listeners by message id. */
export class Watchers {
  private readonly byId = new Map<string, Set<Listener>>();

  /** Calls `listener` for events about any of `ids`; returns the function that stops it. */
  watch(ids: readonly string[], listener: Listener): () => void {
    for (const id of ids) {
      let set = this.byId.get(id);
      if (set === undefined) {
        set = new Set();
        this.byId.set(id, set);
      }
      set.add(listener);
    }
    return () => {
      for (const id of ids) {
        const set = this.byId.get(id);
        set?.delete(listener);
        if (set?.size === 0) this.byId.delete(id);
      }
    };
  }

  emit(ev: WatchEvent): void {
    const set = this.byId.get(ev.id);
    if (set === undefined) return;
    for (const l of [...set]) l(ev);
  }
}
