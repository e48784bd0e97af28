import type http from 'node:http';
import type { Logger } from 'pino';
import type { Message } from '../message/message.js';
import { confine } from '../store/result-path.js';
import { call, callOne, head, inputOfTemplate, type ControlHandler } from './control-call.js';
import { tailErrors } from './error-tail.js';
import { mediaType, readBody, sendJson, sourceOf, type Caller } from './http-util.js';

/** What the API reads and changes on the node: its operator requests, its audit log, its jobs' templates. */
export interface ApiDeps {
  readonly handle: ControlHandler;
  readonly audit: { event(kind: string, fields: Record<string, string>): void };
  /** A job's stored template (JSON of the message every target got), or undefined. */
  readonly jobTemplate: (id: string) => string | undefined;
  readonly nodeName: string;
  readonly centralNodeName: string;
  readonly errorLogFile: string;
  /** Where the data folder is served (exposeDataFolder), or undefined. */
  readonly dataFolder: { readonly port: number; readonly tls: boolean } | undefined;
  readonly logger: Logger;
}

/** The longest body of a POST (a document of messages). */
const MAX_BODY = 8 * 1024 * 1024;
/** How much of each target's output a job's page gets (the rest: /api/jobs/<id>/output/<node>). */
const OUTPUT_HEAD = 400;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

type Params = { readonly url: URL; readonly parts: string[]; readonly body: unknown; readonly caller: Caller; readonly from: string };

/**
 * The console's JSON API under /api/: every read and change goes through the operator
 * requests the socket serves (node/control.ts); changes are written to the audit log with the
 * source address. The server (web-server.ts) has checked the session or token, and for a
 * change the CSRF token and the request's site.
 */
export class Api {
  constructor(private readonly d: ApiDeps) {}

  async serve(req: http.IncomingMessage, res: http.ServerResponse, url: URL, caller: Caller): Promise<void> {
    try {
      const parts = url.pathname.split('/').slice(2).map(decodeURIComponent);
      let body: unknown;
      if (req.method === 'POST') {
        if (mediaType(req) !== 'application/json') throw new HttpError(415, 'send application/json');
        const bytes = await readBody(req, MAX_BODY);
        if (bytes === undefined) throw new HttpError(413, `body larger than ${MAX_BODY} bytes`);
        try {
          body = bytes.length === 0 ? {} : JSON.parse(bytes.toString('utf8'));
        } catch {
          throw new HttpError(400, 'the body is not JSON');
        }
      } else if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'use GET or POST');
      const p: Params = { url, parts, body, caller, from: sourceOf(req) };
      const answer = req.method === 'POST' ? await this.change(p) : await this.read(p);
      sendJson(res, 200, answer);
    } catch (err) {
      const status = err instanceof HttpError ? err.status : 400;
      sendJson(res, status, { error: (err as Error).message });
    }
  }

  private async read(p: Params): Promise<unknown> {
    const [what, id, sub, node] = p.parts;
    const q = (k: string): string => p.url.searchParams.get(k) ?? '';
    switch (what) {
      case 'session':
        return {
          node: this.d.nodeName,
          central: this.d.centralNodeName,
          csrf: p.caller.kind === 'session' ? p.caller.session.csrf : null,
          dataFolder: this.d.dataFolder ?? null,
          now: Date.now(),
        };
      case 'nodes':
        return id === undefined ? this.nodes(q('where')) : this.nodePage(id);
      case 'queue':
        return callOne(this.d.handle, { control: 'queue' });
      case 'jobs':
        if (id === undefined) return callOne(this.d.handle, { control: 'jobs', limit: Number(q('limit')) || 50 });
        if (sub === 'output' && node !== undefined) return this.output(id, node);
        return this.job(id);
      case 'keys':
        return callOne(this.d.handle, { control: 'keys' });
      case 'errors': {
        const limit = Math.min(Math.max(Number(q('limit')) || 200, 1), 2000);
        return { lines: await tailErrors(this.d.errorLogFile, { node: q('node'), q: q('q'), limit }) };
      }
      default:
        throw new HttpError(404, `no such API path ${p.url.pathname.slice(0, 200)}`);
    }
  }

  private async change(p: Params): Promise<unknown> {
    const [what, id, action] = p.parts;
    const body = (p.body ?? {}) as Record<string, unknown>;
    const audit = (fields: Record<string, string>): void => this.d.audit.event('web-send', { from: p.from, via: p.caller.kind, ...fields });
    if (what === 'send' && id === undefined) {
      const lines = await call(this.d.handle, { control: 'send', messages: p.body });
      const accepted = lines.filter((l) => l.status === 'accepted');
      audit({
        action: 'send',
        request: JSON.stringify(p.body).slice(0, 8000),
        accepted: String(accepted.length),
        rejected: String(lines.length - accepted.length),
        ids: accepted.map((l) => String(l.id)).join(','),
      });
      return { results: lines };
    }
    if (what === 'cancel' && id === undefined) {
      const req = typeof body.to === 'string' ? { control: 'cancel', to: body.to } : { control: 'cancel', ids: body.ids };
      const answer = await callOne(this.d.handle, req);
      audit({ action: 'cancel', ...(typeof body.to === 'string' ? { to: body.to } : { ids: JSON.stringify(body.ids).slice(0, 4000) }) });
      return answer;
    }
    if (what === 'jobs' && id !== undefined && action !== undefined) {
      if (action === 'retry') return this.retry(id, audit);
      const control = { cancel: 'job-cancel', pause: 'job-pause', resume: 'job-resume' }[action];
      if (control === undefined) throw new HttpError(404, `no job action ${action.slice(0, 40)}: cancel, pause, resume, retry`);
      const answer = await callOne(this.d.handle, { control, id });
      audit({ action: `job-${action}`, job: id });
      return answer;
    }
    if (what === 'keys' && id !== undefined && (action === 'accept' || action === 'revoke')) {
      const answer = await callOne(this.d.handle, { control: `keys-${action}`, node: id });
      audit({ action: `keys-${action}`, node: id });
      return answer;
    }
    throw new HttpError(404, `no such API path ${p.url.pathname.slice(0, 200)}`);
  }

  /** The nodes heard from, with their key state and the messages pending for them; names known only from keys or the queue too. */
  private async nodes(whereText: string): Promise<unknown> {
    const where: Record<string, string> = {};
    for (const part of whereText.split(',')) {
      const eq = part.indexOf('=');
      if (eq > 0) where[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
    }
    const filtered = Object.keys(where).length > 0;
    const [n, k, q] = await Promise.all([
      callOne(this.d.handle, { control: 'nodes', where }),
      callOne(this.d.handle, { control: 'keys' }),
      callOne(this.d.handle, { control: 'queue' }),
    ]);
    const keys = new Map(((k.keys ?? []) as { name: string; state: string }[]).map((r) => [r.name, r.state]));
    const pending = new Map(((q.destinations ?? []) as { node: string; pending: number }[]).map((d) => [d.node, d.pending]));
    const heard = (n.nodes ?? []) as { node: string; lastSeenMs: number; online: boolean; labels: Record<string, string> }[];
    const names = new Set(heard.map((h) => h.node));
    const others = filtered ? [] : [...new Set([...keys.keys(), ...pending.keys()])].filter((x) => !names.has(x) && x !== this.d.nodeName);
    const row = (name: string): object => ({
      key: keys.get(name) ?? (name === this.d.nodeName ? 'self' : 'none'),
      pending: pending.get(name) ?? 0,
    });
    return {
      now: n.now,
      helloIntervalMs: n.helloIntervalMs,
      nodes: [
        ...heard.map((h) => ({ ...h, ...row(h.node) })),
        ...others.map((o) => ({ node: o, lastSeenMs: null, online: false, labels: {}, ...row(o) })),
      ].sort((a, b) => a.node.localeCompare(b.node)),
    };
  }

  /** One node: its row, its part in the recent jobs, its error lines. */
  private async nodePage(name: string): Promise<unknown> {
    const [all, listed] = await Promise.all([
      this.nodes('') as Promise<{ nodes: { node: string }[] }>,
      callOne(this.d.handle, { control: 'jobs', limit: 20 }),
    ]);
    // The recent jobs read together, not one after the other.
    const views = await Promise.all((listed.jobs as { id: string }[]).map((j) => callOne(this.d.handle, { control: 'job', id: j.id })));
    const jobs = [];
    for (const v of views) {
      const t = (v.targets as { node: string; output: string | null }[] | undefined)?.find((x) => x.node === name);
      if (t !== undefined) jobs.push({ job: v.job, target: { ...t, output: head(t.output, OUTPUT_HEAD).text } });
    }
    return {
      node: all.nodes.find((x) => x.node === name) ?? null,
      jobs,
      errors: await tailErrors(this.d.errorLogFile, { node: name, q: '', limit: 100 }),
    };
  }

  /** A job with a row per target, each output cut (the whole of it: {@link output}), and where its results are. */
  private async job(id: string): Promise<unknown> {
    const v = await callOne(this.d.handle, { control: 'job', id });
    if (v.targets === undefined) return v; // a recurring job
    const template = this.template(id);
    return {
      ...v,
      results:
        template === undefined || !['REQToFile', 'REQToFileAppend'].includes(template.replyMethod)
          ? null
          : { directory: confine(template.directory), fileName: confine(template.fileName) },
      targets: (v.targets as { output: string | null }[]).map((t) => {
        const o = head(t.output, OUTPUT_HEAD);
        return { ...t, output: o.text, outputLength: o.length };
      }),
    };
  }

  private async output(id: string, node: string): Promise<unknown> {
    const v = await callOne(this.d.handle, { control: 'job', id });
    const t = (v.targets as { node: string }[] | undefined)?.find((x) => x.node === node);
    if (t === undefined) throw new HttpError(404, `no target ${node.slice(0, 130)} in job ${id}`);
    return t;
  }

  private template(id: string): Message | undefined {
    const t = this.d.jobTemplate(id);
    return t === undefined ? undefined : (JSON.parse(t) as Message);
  }

  /** "Send again to the failed nodes": a new job of the same template to the targets in error or not responding. */
  private async retry(id: string, audit: (f: Record<string, string>) => void): Promise<unknown> {
    const v = await callOne(this.d.handle, { control: 'job', id });
    const template = this.template(id);
    if (v.targets === undefined || template === undefined) throw new HttpError(404, `no job ${id} on this node`);
    const failed = (v.targets as { node: string; state: string }[])
      .filter((t) => t.state === 'error' || t.state === 'not-responding')
      .map((t) => t.node);
    if (failed.length === 0) throw new HttpError(400, `job ${id} has no failed node to send to again`);
    const lines = await call(this.d.handle, { control: 'send', messages: [inputOfTemplate(template, failed)] });
    const job = lines.find((l) => typeof l.job === 'string')?.job as string | undefined;
    audit({ action: 'job-retry', job: id, to: failed.join(','), newJob: job ?? '' });
    return { results: lines, job: job ?? null };
  }
}
