/** The console's calls to its daemon: JSON, with the session's CSRF token on every change. */

let csrf = '';

export interface SessionInfo {
  node: string;
  central: string;
  csrf: string | null;
  dataFolder: { port: number; tls: boolean } | null;
  now: number;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Without a session the daemon answers 401: back to the login page. */
function toLogin(): never {
  location.href = '/login';
  throw new ApiError(401, 'log in first');
}

async function answer<T>(res: Response): Promise<T> {
  if (res.status === 401) toLogin();
  const body = (await res.json().catch(() => ({}))) as { error?: string };
  if (!res.ok) throw new ApiError(res.status, body.error ?? `HTTP ${res.status}`);
  return body as T;
}

export async function get<T>(path: string): Promise<T> {
  return answer<T>(await fetch(path, { headers: { accept: 'application/json' }, credentials: 'same-origin' }));
}

export async function post<T>(path: string, body: unknown = {}): Promise<T> {
  return answer<T>(
    await fetch(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
      body: JSON.stringify(body),
      credentials: 'same-origin',
    }),
  );
}

export async function session(): Promise<SessionInfo> {
  const s = await get<SessionInfo>('/api/session');
  csrf = s.csrf ?? '';
  return s;
}

export const q = encodeURIComponent;
