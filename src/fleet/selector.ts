import { NODE_NAME } from '../message/message.js';

import { labelsError, type Labels } from '../message/labels.js';

export type { Labels };

/** Parses `key=value,key=value` (the -labels flag, `--where`); throws an Error saying what is wrong. */
export function parseLabels(text: string, what = 'labels'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(',')) {
    const p = part.trim();
    if (p === '') continue;
    const eq = p.indexOf('=');
    if (eq <= 0) throw new Error(`${what}: "${p.slice(0, 80)}" is not key=value`);
    out[p.slice(0, eq).trim()] = p.slice(eq + 1).trim();
  }
  const err = labelsError(out);
  if (err !== undefined) throw new Error(`${what}: ${err}`);
  return out;
}

/** A selection of nodes: names (or `*`, every node known) and labels that must all match. */
export interface Selector {
  readonly names: readonly string[] | '*';
  readonly where: Labels;
}

/** Why a selector is not valid, or undefined. */
export function selectorError(s: Selector): string | undefined {
  if (s.names !== '*') {
    if (s.names.length === 0) return 'no node named: give toNodes, or "*" for every node';
    const bad = s.names.find((n) => !NODE_NAME.test(n));
    if (bad !== undefined) return `toNode "${bad.slice(0, 130)}" is not a valid node name`;
  }
  return labelsError(s.where);
}

/** Whether `labels` have every label of `where`. */
export function matches(labels: Labels, where: Labels): boolean {
  return Object.entries(where).every(([k, v]) => labels[k] === v);
}

/**
 * The nodes a selector names, from the nodes known now (with their labels): `*` is every one of
 * them; names and `where` together are their intersection. A name with `where` must be known (its
 * labels decide); a bare name need not be (a message to a node not heard from yet is fine).
 */
export function expand(s: Selector, known: ReadonlyMap<string, Labels>): string[] {
  const hasWhere = Object.keys(s.where).length > 0;
  const names = s.names === '*' ? [...known.keys()] : [...new Set(s.names)];
  if (!hasWhere) return names.sort();
  return names.filter((n) => matches(known.get(n) ?? {}, s.where) && known.has(n)).sort();
}

/** `role=ship,site=north` for messages and logs. */
export function describeSelector(s: Selector): string {
  const names = s.names === '*' ? '*' : s.names.join(',');
  const where = Object.entries(s.where).map(([k, v]) => `${k}=${v}`);
  return where.length === 0 ? names : `${names} where ${where.join(',')}`;
}
