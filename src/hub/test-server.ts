// A local HTTP server in the Hugging Face Hub's URL layout (see hub-layout.ts) on 127.0.0.1 for Node tests,
// with injected faults: any status (404, 401, 500), a truncated body (ends early, cleanly), a connection
// dropped mid-file, slow answers and a stalled body. Each fault fires `times` times (default once) on
// requests whose path matches. Every request is logged, so a test can assert what went over the wire.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HubLayout, type RepoFixture } from './hub-layout.ts';

export type Fault = { match: RegExp; times?: number } & (
  | { kind: 'status'; status: number }
  /** Sends `after` bytes without a Content-Length, then ends the response normally. */
  | { kind: 'truncate'; after: number }
  /** Sends the Content-Length and `after` bytes, then destroys the socket. */
  | { kind: 'drop'; after: number }
  /** Waits before answering. */
  | { kind: 'slow'; delayMs: number }
  /** Sends `after` bytes, then nothing for `stallMs`, then the rest. */
  | { kind: 'stall'; after: number; stallMs: number }
);

export interface LoggedRequest {
  method: string;
  url: string;
  status: number;
  range: string | null;
  fault: Fault['kind'] | null;
}

export class HubTestServer {
  readonly layout: HubLayout;
  readonly log: LoggedRequest[] = [];
  private faults: Fault[] = [];
  private server: Server | null = null;
  private readonly sockets = new Set<import('node:net').Socket>();
  origin = '';

  constructor(repos: RepoFixture[]) {
    this.layout = new HubLayout(repos);
  }

  async start(): Promise<string> {
    const server = createServer((req, res) => void this.answer(req, res));
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this.origin;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = null;
  }

  inject(...faults: Fault[]): void {
    this.faults.push(...faults.map((f) => ({ ...f, times: f.times ?? 1 })));
  }

  clear(): void {
    this.faults = [];
    this.log.length = 0;
  }

  private take(path: string): Fault | null {
    const f = this.faults.find((x) => x.match.test(path) && (x.times ?? 1) > 0);
    if (!f) return null;
    f.times = (f.times ?? 1) - 1;
    return f;
  }

  private async answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const fault = this.take(url.split('?')[0]);
    const headers: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v[0] : v;
    const r =
      fault?.kind === 'status'
        ? { status: fault.status, headers: { 'content-type': 'text/plain' }, body: new TextEncoder().encode('fault') }
        : this.layout.handle(req.method ?? 'GET', url, headers);
    this.log.push({
      method: req.method ?? 'GET',
      url,
      status: r.status,
      range: headers.range ?? null,
      fault: fault?.kind ?? null,
    });
    if (fault?.kind === 'slow') await sleep(fault.delayMs);
    const body = r.body ?? new Uint8Array(0);
    if (fault?.kind === 'truncate') {
      const { 'content-length': _omit, ...rest } = r.headers;
      res.writeHead(r.status, rest);
      res.end(Buffer.from(body.subarray(0, fault.after)));
      return;
    }
    res.writeHead(r.status, r.headers);
    if (fault?.kind === 'drop') {
      res.write(Buffer.from(body.subarray(0, fault.after)), () => setTimeout(() => req.socket.destroy(), 10));
      return;
    }
    if (fault?.kind === 'stall') {
      res.write(Buffer.from(body.subarray(0, fault.after)));
      await sleep(fault.stallMs);
      if (!res.destroyed) res.end(Buffer.from(body.subarray(fault.after)));
      return;
    }
    res.end(Buffer.from(body));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
