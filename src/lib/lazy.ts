import { createRequire } from 'node:module';

const requireCjs = createRequire(import.meta.url);

/**
 * Loads a module the first time it is used. An idle node never parses input or meets a zstd
 * payload, so it does not pay the memory of the libraries that do (zod, yaml, zstd: ~25 MB).
 */
export function lazy<T>(id: string): () => T {
  let mod: T | undefined;
  return () => (mod ??= requireCjs(id) as T);
}
