import path from 'node:path';
import { partId } from '../message/id.js';

/**
 * How a file copy travels: REQCopyFileFrom on the source node sends the file to the
 * destination node as REQCopyFileTo messages: numbered chunks, then an end message with the
 * size, SHA-256 and mode, or an abort. Each is an ordinary durable message (ACKed, retried,
 * de-duplicated by id), so a copy cut by a link outage resumes where it stopped.
 */
export const COPY_TO = 'REQCopyFileTo';

export const COPY_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Smallest chunk a copy may be cut into. */
export const MIN_CHUNK_BYTES = 1024;

/** Largest offset accepted in a chunk (64 TiB): no sparse file of absurd size from a bad message. */
export const MAX_COPY_OFFSET = 2 ** 46;

export type CopyToArgs =
  | { kind: 'chunk'; dstPath: string; copyId: string; index: number; offset: number }
  | {
      kind: 'end';
      dstPath: string;
      copyId: string;
      chunks: number;
      size: number;
      sha256: string;
      mode: number;
      srcNode: string;
      srcPath: string;
    }
  | { kind: 'abort'; dstPath: string; copyId: string; reason: string };

export function chunkArgs(dstPath: string, copyId: string, index: number, offset: number): string[] {
  return ['chunk', dstPath, copyId, String(index), String(offset)];
}

export function endArgs(a: Omit<Extract<CopyToArgs, { kind: 'end' }>, 'kind'>): string[] {
  return ['end', a.dstPath, a.copyId, String(a.chunks), String(a.size), a.sha256, a.mode.toString(8), a.srcNode, a.srcPath];
}

export function abortArgs(dstPath: string, copyId: string, reason: string): string[] {
  return ['abort', dstPath, copyId, reason];
}

export const chunkIdOf = (copyId: string, index: number): string => partId(copyId, `c${index}`);
export const endIdOf = (copyId: string): string => partId(copyId, 'end');
export const abortIdOf = (copyId: string): string => partId(copyId, 'abort');

/** The temp file a copy is assembled in: next to the destination, so the rename is atomic. */
export function tempPathOf(dstAbs: string, copyId: string): string {
  return path.join(path.dirname(dstAbs), `.${path.basename(dstAbs)}.${copyId}.part`);
}

const USAGE = 'REQCopyFileTo messages are sent by REQCopyFileFrom; send REQCopyFileFrom with methodArgs [srcPath, dstNode, dstPath]';

/** Reads REQCopyFileTo's methodArgs; a string is the error. */
export function parseCopyToArgs(args: readonly string[]): CopyToArgs | string {
  const [kind, dstPath = '', copyId = ''] = args;
  if (kind !== 'chunk' && kind !== 'end' && kind !== 'abort') return `${USAGE} (methodArgs[0] must be chunk, end or abort)`;
  if (dstPath === '' || dstPath.includes('\0')) return `${USAGE} (no destination path)`;
  if (dstPath.endsWith('/')) return `the destination path ${dstPath} names a folder, give the file's full path`;
  if (!COPY_ID.test(copyId)) return `${USAGE} (bad copy id ${JSON.stringify(copyId.slice(0, 80))})`;
  const int = (s: string | undefined, max: number): number | undefined => {
    if (s === undefined || !/^\d{1,16}$/.test(s)) return undefined;
    const n = Number(s);
    return n <= max ? n : undefined;
  };
  if (kind === 'chunk') {
    const index = int(args[3], MAX_COPY_OFFSET);
    const offset = int(args[4], MAX_COPY_OFFSET);
    if (index === undefined || offset === undefined || args.length !== 5) return `${USAGE} (bad chunk arguments)`;
    return { kind, dstPath, copyId, index, offset };
  }
  if (kind === 'abort') return { kind, dstPath, copyId, reason: args[3] ?? '' };
  const chunks = int(args[3], MAX_COPY_OFFSET);
  const size = int(args[4], MAX_COPY_OFFSET);
  const sha256 = args[5] ?? '';
  const mode = /^[0-7]{1,4}$/.test(args[6] ?? '') ? parseInt(args[6] as string, 8) : undefined;
  if (chunks === undefined || size === undefined || !/^[0-9a-f]{64}$/.test(sha256) || mode === undefined || args.length !== 9) {
    return `${USAGE} (bad end arguments)`;
  }
  if (size === 0 ? chunks !== 0 : chunks < 1 || chunks > Math.ceil(size / MIN_CHUNK_BYTES)) {
    return `${USAGE} (${chunks} chunks cannot hold ${size} bytes)`;
  }
  return { kind, dstPath, copyId, chunks, size, sha256, mode, srcNode: args[7] as string, srcPath: args[8] as string };
}
