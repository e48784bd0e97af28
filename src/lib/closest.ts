import type * as LevenshteinLib from 'fastest-levenshtein';
import { lazy } from './lazy.js';

/** Only a mistake needs it. */
const levenshtein = lazy<typeof LevenshteinLib>('fastest-levenshtein');

/**
 * The candidate nearest to `word` (case-insensitive edit distance), for "did you mean"
 * hints. Returns undefined when nothing is reasonably close.
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  // An abbreviation (`--node` for `--nodeName`) is the likeliest intent.
  const prefixed = candidates.filter((c) => c.toLowerCase().startsWith(w)).sort((a, b) => a.length - b.length)[0];
  if (w.length >= 3 && prefixed !== undefined) return prefixed;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = levenshtein().distance(w, c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  const limit = Math.max(2, Math.ceil(w.length / 2));
  return bestDistance <= limit ? best : undefined;
}

/** ` (did you mean "x"?)` or the empty string. */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const c = closest(word, candidates);
  return c === undefined ? '' : ` (did you mean "${c}"?)`;
}
