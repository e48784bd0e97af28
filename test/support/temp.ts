import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';

/**
 * A maker of temporary folders named `<prefix>-...` for one test file: each folder it made is
 * removed when the file's tests are done (call it at the top level of the file).
 */
export function tempFolders(prefix: string): () => string {
  const made: string[] = [];
  after(() => {
    for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
    made.push(dir);
    return dir;
  };
}
