import fs from 'node:fs';

/** Size of a file in bytes; 0 when it does not exist (yet). */
export function sizeOf(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/** Newlines in a file. Holes left by out-of-order planned appends read as NULs, not newlines. */
export function countNewlines(file: string): number {
  const b = fs.readFileSync(file);
  let c = 0;
  for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) c++;
  return c;
}

/** The lines of a file, without the empty one after the last newline. */
export function readLines(file: string): string[] {
  const got = fs.readFileSync(file, 'utf8').split('\n');
  if (got[got.length - 1] === '') got.pop();
  return got;
}
