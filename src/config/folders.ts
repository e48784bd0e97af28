import fs from 'node:fs';

/**
 * The node's own folders (config, store, data) are 0700: made so, or tightened at start when
 * they are looser (each change is told to `warn`), so what is in them is the node's only.
 */
export function tightenFolders(folders: readonly string[], warn: (text: string) => void): void {
  for (const dir of new Set(folders)) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const mode = fs.statSync(dir).mode & 0o777;
    if ((mode & 0o077) === 0) continue;
    fs.chmodSync(dir, 0o700);
    warn(`${dir} was open to others (mode ${mode.toString(8).padStart(4, '0')}): tightened to 0700`);
  }
}
