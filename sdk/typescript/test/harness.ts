// What every test file needs: a `portcullis serve` of its own, started as tests/e2e starts
// it (temporary --data-dir, every listener on 127.0.0.1 port 0, an admin token, a hosts
// file naming `.test` hosts, the guard exempting loopback), an upstream HTTP server on
// 127.0.0.1, and requests through the gateway's proxy; for the fleet, a PostgreSQL cluster
// of the test's own (scripts/postgres-test-server on a free port). Loopback only. The
// gateway is .build/debug/portcullis, or PORTCULLIS_BINARY when set.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { createServer as createTCPServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { Portcullis, Sandbox } from '../src/index.js';

export const ROOT = resolve(fileURLToPath(import.meta.url), '../../../../..');
export const BINARY = process.env.PORTCULLIS_BINARY ? resolve(process.env.PORTCULLIS_BINARY) : join(ROOT, '.build', 'debug', 'portcullis');
export const OPENAPI = join(ROOT, 'Sources', 'PortcullisAPI', 'openapi.yaml');
export const ADMIN = 'sdk-ts-admin-token-0123456789abcdef';
// The source documents' hosts as `.test` names (.com/.org/.dev -> .test), all on 127.0.0.1.
export const NAMES = [
  'allowed.test', 'denied.test', 'other.test', 'api.openai.test', 'pypi.test', 'files.pythonhosted.test', 'example.test',
  'github.test', 'objects.githubusercontent.test', 'registry.npmjs.test', 'pkg.go.test', 'proxy.golang.test',
  'api.experimental.example.test', 'metadata.google.test',
];

export interface Gateway {
  api: string;
  proxyPort: number;
  admin: Portcullis;
  stop(): Promise<void>;
  /** A client of a fresh tenant (tenant-wide changes stay in the test that makes them). */
  tenant(options?: { fetch?: typeof fetch }): Promise<Portcullis>;
  /** Sends a signal to the serve process (SIGSTOP: alive but applying nothing; SIGCONT). */
  signal(name: 'SIGSTOP' | 'SIGCONT'): void;
}

let counter = 0;

/** `extraArgs`: more `serve` flags (a fleet node's `--database-url`, `--node-id`, …). */
export async function startGateway(extraArgs: readonly string[] = []): Promise<Gateway> {
  if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: build first (swift build --product portcullis)`);
  const tmp = mkdtempSync(join(tmpdir(), 'portcullis-sdk-ts-'));
  const hosts = join(tmp, 'hosts');
  writeFileSync(hosts, NAMES.map((n) => `127.0.0.1 ${n}\n`).join('') + '169.254.169.254 metadata.test\n');
  const args = ['serve', '--data-dir', join(tmp, 'data'), '--api', '127.0.0.1:0', '--proxy', '127.0.0.1:0', '--socks', '127.0.0.1:0',
    '--dns', '127.0.0.1:0', '--transparent', '127.0.0.1:0', '--hosts-file', hosts, '--guard-exempt', '127.0.0.0/8',
    '--no-system-resolver', '--admin-token', ADMIN, ...extraArgs];
  const child = spawn(BINARY, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const log: string[] = [];
  child.stderr.on('data', (d: unknown) => log.push(String(d)));
  const banner = await new Promise<string>((ok, fail) => {
    const lines: string[] = [];
    const timer = setTimeout(() => fail(new Error(`serve did not start in 60 s: ${log.join('').slice(-2000)}`)), 60_000);
    const rl = createInterface({ input: child.stdout });
    rl.on('line', (line: string) => {
      lines.push(line);
      if (line.startsWith('Point a sandbox')) {
        clearTimeout(timer);
        ok(lines.join('\n'));
      }
    });
    child.on('exit', (code: number) => fail(new Error(`serve exited with ${code}: ${log.join('').slice(-2000)}`)));
  });
  const api = /API \(and dashboard\)\s+(http:\/\/\S+)/.exec(banner)![1];
  const proxyPort = Number(/HTTP\/CONNECT proxy\s+http:\/\/127\.0\.0\.1:(\d+)/.exec(banner)![1]);
  for (let i = 0; ; i++) {
    const ready = await fetch(`${api}/readyz`).then((r) => r.status === 200, () => false);
    if (ready) break;
    if (i > 200) throw new Error('serve never became ready');
    await sleep(50);
  }
  const admin = new Portcullis({ baseURL: api, apiKey: ADMIN });
  return {
    api, proxyPort, admin,
    async tenant(options = {}) {
      const created = await admin.tenants.create(`sdk-ts-${process.pid}-${++counter}`);
      return new Portcullis({ baseURL: api, apiKey: created.apiKey, fetch: options.fetch });
    },
    signal(name) {
      child.kill(name);
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((ok) => child.on('exit', ok));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

export interface Postgres {
  url: string;
  /** The secrets key file every node of the fleet is given (`--secrets-key-file`, INSPECTION.md). */
  secretsKey: string;
  /** The `serve` flags of a node of this fleet. */
  nodeArgs(nodeId: string): string[];
  close(): void;
}

/** A throwaway PostgreSQL cluster (scripts/postgres-test-server) on a free loopback port. */
export async function startPostgres(): Promise<Postgres> {
  const probe = createTCPServer();
  await new Promise<void>((ok) => probe.listen(0, '127.0.0.1', ok));
  const port = String(probe.address().port);
  await new Promise<void>((ok) => probe.close(() => ok()));
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-sdk-pg-'));
  spawnSync('chmod', ['755', dir]);
  const env = { ...process.env, PORTCULLIS_PG_PORT: port, PORTCULLIS_PG_DIR: dir };
  const r = spawnSync(join(ROOT, 'scripts', 'postgres-test-server'), [], { env, encoding: 'utf8', timeout: 180_000 });
  if (r.status !== 0) throw new Error(`could not start PostgreSQL (scripts/test installs it): ${String(r.stderr).slice(-2000)}`);
  const url = String(r.stdout).trim();
  const secretsKey = join(dir, 'secrets.key');
  writeFileSync(secretsKey, randomBytes(32).toString('base64') + '\n', { mode: 0o600 });
  return {
    url, secretsKey,
    nodeArgs: (nodeId) => ['--database-url', url, '--node-id', nodeId, '--sync-interval', '1s', '--secrets-key-file', secretsKey],
    close() {
      const bindir = spawnSync('sh', ['-c', 'ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1'], { encoding: 'utf8' }).stdout.trim();
      const stop = [join(bindir, 'pg_ctl'), '-D', join(dir, 'data'), '-m', 'immediate', 'stop'];
      const root = typeof process.getuid === 'function' && process.getuid() === 0;
      spawnSync(root ? 'runuser' : stop[0], root ? ['-u', 'postgres', '--', ...stop] : stop.slice(1), { timeout: 60_000 });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Upstream {
  port: number;
  close(): Promise<void>;
}

/** A plain-HTTP server on 127.0.0.1 that answers every request with its Host. */
export async function startUpstream(): Promise<Upstream> {
  const server = createServer((req: any, res: any) => {
    req.resume();
    req.on('end', () => {
      const body = `hello from ${req.headers.host}\n`;
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(body.length) });
      res.end(body);
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    port: server.address().port,
    close: () => new Promise<void>((ok) => { server.closeAllConnections?.(); server.close(() => ok()); }),
  };
}

export interface Answer {
  status: number;
  reason: string;
  body: string;
  ms: number;
}

/** One plain-HTTP request through the gateway's proxy, with the sandbox's own proxy settings. */
export function proxied(sandbox: Sandbox, url: string, method = 'GET'): Promise<Answer> {
  const proxy = new URL(sandbox.proxy.httpUrl);
  const target = new URL(url);
  const auth = Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString('base64');
  const start = Date.now();
  return new Promise((ok, fail) => {
    const req = request({
      host: proxy.hostname, port: Number(proxy.port), method, path: url,
      headers: { host: target.host, 'proxy-authorization': `Basic ${auth}` },
    }, (res: any) => {
      let body = '';
      res.on('data', (d: unknown) => { body += String(d); });
      res.on('end', () => ok({ status: res.statusCode, reason: res.headers['x-portcullis-reason'] ?? '', body, ms: Date.now() - start }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', fail);
    req.end();
  });
}

/** A CONNECT through the sandbox's proxy: the proxy's status, and how long it took to answer. */
export function connect(sandbox: Sandbox, host: string, port: number): Promise<Answer> {
  const proxy = new URL(sandbox.proxy.httpUrl);
  const auth = Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString('base64');
  const start = Date.now();
  return new Promise((ok, fail) => {
    const req = request({
      host: proxy.hostname, port: Number(proxy.port), method: 'CONNECT', path: `${host}:${port}`,
      headers: { host: `${host}:${port}`, 'proxy-authorization': `Basic ${auth}` },
    });
    const answer = (res: any, socket?: any) => {
      socket?.destroy();
      ok({ status: res.statusCode, reason: res.headers['x-portcullis-reason'] ?? '', body: '', ms: Date.now() - start });
    };
    req.on('connect', answer);
    req.on('response', (res: any) => { res.resume(); answer(res); });
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', fail);
    req.end();
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((ok) => setTimeout(ok, ms));
}

/** Polls `fn` until it returns something truthy (or `ms` pass; then its last value). */
export async function waitFor<T>(fn: () => Promise<T>, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await fn();
    if (value || Date.now() > deadline) return value;
    await sleep(50);
  }
}

export async function collect<T>(iterable: AsyncIterable<T>, limit = Infinity): Promise<T[]> {
  const out: T[] = [];
  for await (const x of iterable) {
    out.push(x);
    if (out.length >= limit) break;
  }
  return out;
}

/** The OpenAPI document as JSON, read with PyYAML (Node has no YAML parser of its own). */
export function openapi(): any {
  const r = spawnSync('python3', ['-c', 'import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)', OPENAPI],
    { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`reading ${OPENAPI} needs python3 with PyYAML: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Records the operations a client sends, recovered from each request's method and path. */
export class Recorder {
  readonly seen = new Set<string>();
  readonly all = new Set<string>();
  readonly #routes: Array<[string, RegExp, any, number, any[]]> = [];
  readonly #doc: any;

  constructor(doc = openapi()) {
    this.#doc = doc;
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(item)) {
        if (!op || typeof op !== 'object' || !op.operationId) continue;
        this.#routes.push([method.toUpperCase(), new RegExp('^' + path.replace(/\{[^/]+\}/g, '[^/]+') + '$'), op, path.split('{').length,
          item.parameters ?? []]);
        this.all.add(op.operationId);
      }
    }
    this.#routes.sort((a, b) => a[3] - b[3]);
  }

  /** The operations sent with `?wait=fleet` (FLEET.md: any policy-changing call may ask for it). */
  readonly waited = new Set<string>();

  readonly fetch: typeof fetch = (input: any, init?: any) => {
    const url = new URL(typeof input === 'string' ? input : input.url);
    const method = (init?.method ?? 'GET').toUpperCase();
    const route = this.#routes.find(([m, re]) => m === method && re.test(url.pathname));
    if (!route) throw new Error(`${method} ${url.pathname} is no operation of the OpenAPI document`);
    const op = route[2];
    this.seen.add(op.operationId);
    const defined = new Set<string>();
    for (let p of [...route[4], ...(op.parameters ?? [])]) {
      if (p.$ref) p = this.#doc.components.parameters[p.$ref.split('/').pop()];
      if (p.in === 'query') defined.add(p.name);
    }
    url.searchParams.forEach((value, key) => {
      if (key === 'wait' && !defined.has(key)) {
        if (value !== 'fleet') throw new Error(`${op.operationId}: wait=${value}`);
        this.waited.add(op.operationId);
      } else if (!defined.has(key)) {
        throw new Error(`${op.operationId}: the SDK sent the query parameter ${key}, which the document does not define`);
      }
    });
    if (init?.body) this.checkFields(JSON.parse(init.body), op.requestBody.content['application/json'].schema, op.operationId);
    return fetch(input, init);
  };

  /** Every field the SDK sent is one the operation defines, in snake_case (the API refuses others). */
  checkFields(value: unknown, schema: any, where: string): void {
    while (schema.$ref) schema = this.#doc.components.schemas[schema.$ref.split('/').pop()];
    if (value && typeof value === 'object' && !Array.isArray(value) && schema.properties) {
      for (const [key, v] of Object.entries(value)) {
        if (!(key in schema.properties)) throw new Error(`${where}: the SDK sent ${key}, which the document does not define`);
        this.checkFields(v, schema.properties[key], `${where}.${key}`);
      }
    } else if (Array.isArray(value) && schema.items) {
      for (const v of value) this.checkFields(v, schema.items, `${where}[]`);
    }
  }
}

export function readText(path: string): string {
  return readFileSync(path, 'utf8');
}

declare const Buffer: { from(text: string): { toString(encoding: string): string } };
