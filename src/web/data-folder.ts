import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream';
import { escapeHtml, sendJson } from './http-util.js';

/** Content types by extension; anything else is application/octet-stream. */
const TYPES: Readonly<Record<string, string>> = {
  txt: 'text/plain; charset=utf-8',
  log: 'text/plain; charset=utf-8',
  result: 'text/plain; charset=utf-8',
  out: 'text/plain; charset=utf-8',
  err: 'text/plain; charset=utf-8',
  md: 'text/markdown; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  json: 'application/json',
  yaml: 'application/yaml',
  yml: 'application/yaml',
  toml: 'application/toml',
  xml: 'application/xml',
  html: 'text/html; charset=utf-8',
  htm: 'text/html; charset=utf-8',
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  svg: 'image/svg+xml',
  webp: 'image/webp',
  pdf: 'application/pdf',
  gz: 'application/gzip',
  tgz: 'application/gzip',
  zst: 'application/zstd',
  tar: 'application/x-tar',
  zip: 'application/zip',
};

/**
 * Served files are the fleet's output, not the console's: in a sandbox (no script runs, no
 * form posts, a unique origin), loaded by no other site.
 */
export const DATA_CSP = "sandbox; default-src 'none'; img-src 'self'; media-src 'self'";

export function contentType(name: string): string {
  return TYPES[path.extname(name).slice(1).toLowerCase()] ?? 'application/octet-stream';
}

class Refused extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The path segments of a request, decoded; `.`, `..` and segments that decode to a slash, a
 * backslash or a NUL are refused (not normalized away: a request that tries to climb is wrong).
 */
export function segmentsOf(rawUrl: string): string[] {
  const rawPath = rawUrl.split('?')[0] ?? '';
  const out: string[] = [];
  for (const raw of rawPath.split('/')) {
    if (raw === '') continue;
    let seg: string;
    try {
      seg = decodeURIComponent(raw);
    } catch {
      throw new Refused(400, 'a path segment is not valid percent-encoding');
    }
    if (seg === '.' || seg === '..' || /[/\\\0]/.test(seg)) throw new Refused(400, 'the path leaves the data folder');
    out.push(seg);
  }
  return out;
}

/**
 * Serves the data folder read-only (exposeDataFolder): a folder is a listing (HTML, or JSON with
 * `?format=json` or `Accept: application/json`), a file a download with a single byte range. Every
 * component of the path is looked at with lstat and a symlink is refused, never followed; the file
 * is opened with O_NOFOLLOW and its descriptor's real path checked to be inside the folder.
 */
export async function serveDataFolder(req: http.IncomingMessage, res: http.ServerResponse, root: string): Promise<void> {
  try {
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new Refused(405, 'the data folder is read-only: GET or HEAD');
    const segments = segmentsOf(req.url ?? '/');
    let at = root;
    let st = await fs.promises.lstat(root).catch(() => undefined);
    if (st === undefined) throw new Refused(404, 'the data folder does not exist yet');
    for (const seg of segments) {
      if (!st.isDirectory()) throw new Refused(404, 'no such file');
      at = path.join(at, seg);
      st = await fs.promises.lstat(at).catch(() => undefined);
      if (st === undefined) throw new Refused(404, 'no such file');
      if (st.isSymbolicLink()) throw new Refused(403, 'a symbolic link: not followed');
    }
    const urlPath = '/' + segments.map(encodeURIComponent).join('/');
    if (st.isDirectory()) {
      if (!(req.url ?? '/').split('?')[0]?.endsWith('/')) {
        res.writeHead(301, { location: `${urlPath === '/' ? '' : urlPath}/` });
        res.end();
        return;
      }
      return await listing(req, res, root, at, st, segments);
    }
    if (!st.isFile()) throw new Refused(403, 'not a regular file');
    await download(req, res, root, at, st);
  } catch (err) {
    if (err instanceof Refused) sendJson(res, err.status, { error: err.message });
    else if (!res.headersSent) sendJson(res, 500, { error: 'cannot read the file' });
    else res.destroy();
  }
}

async function listing(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  root: string,
  dir: string,
  seen: fs.Stats,
  segments: string[],
): Promise<void> {
  // Read through a descriptor of the folder looked at: a component swapped for a symlink between
  // the lstat and the read shows here, as for a download.
  const fh = await fs.promises.open(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW).catch(() => {
    throw new Refused(404, 'no such folder');
  });
  let dirents: fs.Dirent[];
  try {
    const st = await fh.stat();
    const real = await fs.promises.readlink(`/proc/self/fd/${fh.fd}`).catch(() => undefined);
    if (st.ino !== seen.ino || st.dev !== seen.dev || (real !== undefined && real !== root && !real.startsWith(root + path.sep)))
      throw new Refused(403, 'the folder changed while it was opened');
    dirents = await fs.promises.readdir(`/proc/self/fd/${fh.fd}`, { withFileTypes: true });
  } finally {
    await fh.close();
  }
  const entries = await Promise.all(
    dirents.map(async (d) => {
      const st = await fs.promises.lstat(path.join(dir, d.name)).catch(() => undefined);
      const type = d.isSymbolicLink() ? 'symlink' : d.isDirectory() ? 'dir' : d.isFile() ? 'file' : 'other';
      return { name: d.name, type, size: st?.size ?? 0, mtimeMs: Math.round(st?.mtimeMs ?? 0) };
    }),
  );
  entries.sort((a, b) => ((a.type === 'dir') !== (b.type === 'dir') ? (a.type === 'dir' ? -1 : 1) : a.name.localeCompare(b.name)));
  const url = new URL(req.url ?? '/', 'http://x');
  if (url.searchParams.get('format') === 'json' || (req.headers.accept ?? '').startsWith('application/json')) {
    sendJson(res, 200, { path: '/' + segments.join('/'), entries });
    return;
  }
  const title = escapeHtml('/' + segments.join('/'));
  const rows = entries.map((e) => {
    const name = escapeHtml(e.name) + (e.type === 'dir' ? '/' : '');
    const link =
      e.type === 'dir' || e.type === 'file'
        ? `<a href="${escapeHtml(encodeURIComponent(e.name))}${e.type === 'dir' ? '/' : ''}">${name}</a>`
        : `${name} (${e.type}, not served)`;
    return `<tr><td>${link}</td><td>${e.type === 'file' ? e.size : ''}</td><td>${new Date(e.mtimeMs).toISOString()}</td></tr>`;
  });
  const up = segments.length > 0 ? '<p><a href="../">../</a></p>' : '';
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1>${up}<table><thead><tr><th>name</th><th>bytes</th><th>modified</th></tr></thead><tbody>${rows.join('')}</tbody></table></body></html>`;
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': String(Buffer.byteLength(html)),
    'cache-control': 'no-store',
  });
  res.end(req.method === 'HEAD' ? undefined : html);
}

async function download(req: http.IncomingMessage, res: http.ServerResponse, root: string, file: string, seen: fs.Stats): Promise<void> {
  const fh = await fs.promises.open(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK).catch(() => {
    throw new Refused(404, 'no such file');
  });
  let handed = false;
  try {
    const st = await fh.stat();
    // The file opened is the one looked at, and it is inside the folder (a component swapped
    // for a symlink meanwhile would show here).
    if (st.ino !== seen.ino || st.dev !== seen.dev || !st.isFile()) throw new Refused(403, 'the file changed while it was opened');
    const real = await fs.promises.readlink(`/proc/self/fd/${fh.fd}`).catch(() => undefined);
    if (real !== undefined && !real.startsWith(root + path.sep)) throw new Refused(403, 'the file is outside the data folder');
    const size = st.size;
    const range = byteRange(req.headers.range, size);
    const headers: Record<string, string> = {
      'content-type': contentType(file),
      'accept-ranges': 'bytes',
      'last-modified': st.mtime.toUTCString(),
      'cache-control': 'no-store',
    };
    if (range === 'unsatisfiable') {
      res.writeHead(416, { ...headers, 'content-range': `bytes */${size}`, 'content-length': '0' });
      res.end();
      return;
    }
    const [start, end] = range ?? [0, size - 1];
    const length = size === 0 ? 0 : end - start + 1;
    res.writeHead(range === undefined ? 200 : 206, {
      ...headers,
      'content-length': String(length),
      ...(range === undefined ? {} : { 'content-range': `bytes ${start}-${end}/${size}` }),
    });
    if (req.method === 'HEAD' || length === 0) {
      res.end();
      return;
    }
    handed = true;
    const stream = fh.createReadStream({ start, end, autoClose: true });
    // pipeline closes the file when the client goes away mid-download (pipe would leave it open).
    pipeline(stream, res, () => undefined);
  } finally {
    if (!handed) await fh.close();
  }
}

/**
 * One byte range of a Range header, as [start, end] (inclusive); undefined: the whole file (no
 * header, or several ranges: served whole); 'unsatisfiable' beyond the end.
 */
export function byteRange(header: string | undefined, size: number): [number, number] | undefined | 'unsatisfiable' {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (m === null) return undefined;
  const [, a, b] = m as unknown as [string, string, string];
  if (a === '' && b === '') return undefined;
  if (a === '') {
    const n = Number(b);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return [Math.max(0, size - n), size - 1];
  }
  const start = Number(a);
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return [start, end];
}
