import http from 'node:http';

export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * One HTTP request with the path sent exactly as given (no normalization of `..`, unlike
 * fetch), so tests can send what an attacker would.
 */
export function httpRequest(
  port: number,
  method: string,
  rawPath: string,
  opts: { headers?: Record<string, string>; body?: string } = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: rawPath, headers: opts.headers ?? {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (s: string) => (body += s));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** The `name=value` of a Set-Cookie header. */
export function cookiePair(headers: http.IncomingHttpHeaders): string {
  const set = headers['set-cookie']?.[0] ?? '';
  return set.split(';')[0] ?? '';
}
