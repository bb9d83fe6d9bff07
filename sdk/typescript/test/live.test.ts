// Against a live serve: each error class, paging past one page, the live log, and abort.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, test } from 'node:test';

import {
  APIConnectionError, APIStatusError, APITimeoutError, APIUserAbortError, AuthenticationError, BadRequestError, ConflictError,
  NotFoundError, PermissionDeniedError, Portcullis, PortcullisError, Sandbox,
} from '../src/index.js';
import { collect, Gateway, proxied, sleep, startGateway, startUpstream, Upstream, waitFor } from './harness.js';

let gw: Gateway;
let up: Upstream;
before(async () => { gw = await startGateway(); up = await startUpstream(); });
after(async () => { await up?.close(); await gw?.stop(); });

test('each error class, as the API answers', async () => {
  const client = await gw.tenant();
  const bad = await client.sandboxes.create({ network: { allow: ['*'] } }).catch((e) => e);
  assert.ok(bad instanceof BadRequestError && bad instanceof APIStatusError && bad instanceof PortcullisError);
  assert.equal(bad.status, 400);
  assert.equal(bad.statusCode, 400);
  const computer = await client.sandboxes.create();
  await assert.rejects(client.networkPolicy.update(computer.id, { mode: 'allowlist', rules: [] }),
    (e: unknown) => e instanceof BadRequestError && e.message === 'rules required for allowlist/denylist mode');
  await assert.rejects(new Portcullis({ baseURL: gw.api, apiKey: 'not-a-key' }).sandboxes.get(computer.id),
    (e: unknown) => e instanceof AuthenticationError && e.status === 401 && e.message === 'missing or invalid API key');
  await assert.rejects(client.tenants.create('nope'),
    (e: unknown) => e instanceof PermissionDeniedError && e.message === 'admin key required');
  await assert.rejects(client.sandboxes.get('sbx_doesnotexist'),
    (e: unknown) => e instanceof NotFoundError && e.message === 'sandbox not found');
  await assert.rejects(client.networkPolicy.get('sbx_doesnotexist'),
    (e: unknown) => e instanceof NotFoundError && e.message === 'computer not found');
  await assert.rejects(client.profiles.delete('pypi'), (e: unknown) => e instanceof ConflictError && e.status === 409);
  const theirs = await gw.admin.sandboxes.create();
  await assert.rejects(client.sandboxes.network(theirs.id).observe(), NotFoundError);
});

test('connection refused, silence and bad ids', async () => {
  const server = createServer(() => undefined); // accepts and never answers
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const silentPort = server.address().port;
  try {
    const slow = new Portcullis({ baseURL: `http://127.0.0.1:${silentPort}`, apiKey: 'k', timeout: 300 });
    const started = Date.now();
    await assert.rejects(slow.sandboxes.get('sbx_x'), (e: unknown) => e instanceof APITimeoutError && e instanceof APIConnectionError);
    assert.ok(Date.now() - started < 3000);
  } finally {
    server.close();
  }
  await sleep(50);
  const refused = new Portcullis({ baseURL: `http://127.0.0.1:${silentPort}`, apiKey: 'k' });
  await assert.rejects(refused.sandboxes.get('sbx_x'), (e: unknown) => e instanceof APIConnectionError && !(e instanceof APITimeoutError));
  const client = await gw.tenant();
  for (const id of ['', '.', '..']) await assert.rejects(client.sandboxes.network(id).observe(), TypeError);
  await assert.rejects(client.sandboxes.get('a/../b'), NotFoundError);
  assert.throws(() => new Portcullis({ baseURL: 'ftp://x', apiKey: 'k' }), PortcullisError);
});

test('paging past one page', async () => {
  const client = await gw.tenant();
  const made: Sandbox[] = [];
  for (let i = 0; i < 5; i++) made.push(await client.sandboxes.create({ name: `page-${i}` }));
  const listed = await collect(client.sandboxes.list({ limit: 2 }));
  assert.deepEqual(listed.map((s) => s.name).sort(), ['page-0', 'page-1', 'page-2', 'page-3', 'page-4'], 'every sandbox once');
  // The API lists sandboxes by id (docs/api.md "Paging": stable across pages; ids are random,
  // so not creation order — created_at has one-second resolution besides).
  assert.deepEqual(listed.map((s) => s.id), listed.map((s) => s.id).sort(), 'in id order');
  // Awaited, a pager is the whole list (SDK.md's `client.sandboxes.list()`, `sandbox.network.pending()`).
  const pager = client.sandboxes.list({ limit: 2 });
  const awaited: Sandbox[] = await pager;
  assert.ok(Array.isArray(awaited) && awaited.length === 5);
  assert.deepEqual(awaited.map((s) => s.id), listed.map((s) => s.id));
  assert.equal(await pager, awaited, 'awaiting the same pager again gives the same array');
  assert.deepEqual((await client.sandboxes.list({ limit: 2 }).toArray()).map((s) => s.id), listed.map((s) => s.id));
  assert.equal((await collect(pager)).length, 5, 'for await still reads it page by page');
  const pages = [];
  for await (const page of client.sandboxes.list({ limit: 2 }).pages()) pages.push(page);
  assert.deepEqual(pages.map((p) => p.items.length), [2, 2, 1]);
  assert.equal(pages[2].nextCursor, undefined);
  for (let i = 0; i < 7; i++) assert.equal((await proxied(made[0], `http://allowed.test:${up.port}/`)).status, 200);
  await waitFor(async () => (await collect(client.audit.list({ sandbox: made[0].id }))).length >= 7);
  const entries = await collect(client.audit.list({ sandbox: made[0].id, limit: 3 }));
  assert.equal(new Set(entries.map((e) => e.id)).size, 7);
});

test('the live log, for await, and its end', async () => {
  const client = await gw.tenant();
  const sandbox = await client.sandboxes.create({ network: { allow: ['allowed.test'] } });
  const log = await sandbox.network.log().open();
  await proxied(sandbox, `http://allowed.test:${up.port}/`);
  await proxied(sandbox, `http://denied.test:${up.port}/`);
  const seen = [];
  for await (const e of log) {
    seen.push([e.host, e.action, e.via]);
    if (seen.length === 2) break;
  }
  assert.deepEqual(seen, [['allowed.test', 'allow', 'http'], ['denied.test', 'reject', 'http']]);
  const rejects = await sandbox.network.log({ action: 'reject' }).open();
  await proxied(sandbox, `http://allowed.test:${up.port}/`);
  await proxied(sandbox, `http://other.test:${up.port}/`);
  assert.deepEqual((await collect(rejects, 1)).map((e) => e.host), ['other.test']);
});

/** A client whose fetch records each request and answers what each kind of call reads (no server). */
function recording(sent: string[]): Portcullis {
  const fetchImpl = (async (input: any, init?: any) => {
    const url = String(input).replace('http://gateway.test', '');
    sent.push(`${init?.method ?? 'GET'} ${url}${init?.body ? ' ' + init.body : ''}`);
    if (/\/audit\/(stream|export)/.test(url)) return new Response('', { status: 200 });
    const list = init?.method === 'GET' && /\/(sandboxes|pending|tenants|audit)(\?|$)/.test(url);
    return new Response(JSON.stringify(list ? { items: [] } : {}), { status: 200, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
  return new Portcullis({ baseURL: 'http://gateway.test', apiKey: 'k', fetch: fetchImpl });
}

test('{ signal } alone, where a call has optional params, is the options', async () => {
  const sent: string[] = [];
  const c = recording(sent);
  const net = c.sandboxes.network('sbx_1');
  // Each verb whose params are optional, given `{ signal }` as its only options argument, and the request it sends.
  const verbs: Array<[string, (o: { signal: AbortSignal }) => Promise<unknown>]> = [
    ['POST /api/v1/sandboxes {}', (o) => c.sandboxes.create(o)],
    ['GET /api/v1/sandboxes', (o) => c.sandboxes.list(o).toArray()],
    ['POST /api/v1/sandboxes/sbx_1/network/rules {"action":"allow","host":"a.test"}', (o) => net.allow('a.test', o)],
    ['POST /api/v1/sandboxes/sbx_1/network/rules {"action":"deny","host":"a.test"}', (o) => net.deny('a.test', o)],
    ['POST /api/v1/sandboxes/sbx_1/network/lockdown', (o) => net.lockdown(o)],
    ['GET /api/v1/sandboxes/sbx_1/network/suggestions', (o) => net.suggestions(o)],
    ['GET /api/v1/sandboxes/sbx_1/network/pending', async (o) => net.pending(o)],
    ['POST /api/v1/sandboxes/sbx_1/network/pending/pnd_1/allow', (o) => net.allowPending('pnd_1', o)],
    ['POST /api/v1/sandboxes/sbx_1/network/pending/pnd_1/block', (o) => net.blockPending('pnd_1', o)],
    ['POST /api/v1/sandboxes/sbx_1/network/explain {"host":"a.test"}', (o) => net.explain('a.test', o)],
    ['GET /api/v1/audit/stream?sandbox=sbx_1', (o) => collect(net.log(o))],
    ['POST /api/v1/network/rules {"action":"allow","host":"a.test"}', (o) => c.network.allow('a.test', o)],
    ['POST /api/v1/network/rules {"action":"deny","host":"a.test"}', (o) => c.network.deny('a.test', o)],
    ['GET /api/v1/tenants', async (o) => c.tenants.list(o)],
    ['GET /api/v1/audit', async (o) => c.audit.list(o)],
    ['GET /api/v1/audit/stream', (o) => collect(c.audit.stream(o))],
    ['GET /api/v1/audit/export', (o) => collect(c.audit.export(o))],
    ['POST /api/v1/templates {"name":"t"}', (o) => c.templates.create('t', o)],
  ];
  for (const [request, call] of verbs) {
    sent.length = 0;
    await call({ signal: new AbortController().signal });
    assert.deepEqual(sent, [request], request);
    const aborted = new AbortController();
    aborted.abort();
    await assert.rejects(call({ signal: aborted.signal }), { name: 'AbortError' }, `${request}: the signal is the call's`);
    assert.equal(sent.length, 1, `${request}: an aborted call sends nothing`);
  }
  // Options beside params are taken out of them too; the last argument's win.
  sent.length = 0;
  await c.audit.list({ action: 'reject', limit: 5, signal: new AbortController().signal });
  await net.lockdown({ hosts: ['a.test'], wait: 'fleet' });
  await net.allow('a.test', { warnOnly: true, wait: 'fleet' }, { wait: undefined, signal: new AbortController().signal });
  assert.deepEqual(sent, ['GET /api/v1/audit?action=reject&limit=5', 'POST /api/v1/sandboxes/sbx_1/network/lockdown?wait=fleet {"hosts":["a.test"]}',
    'POST /api/v1/sandboxes/sbx_1/network/rules?wait=fleet {"warn_only":true,"action":"allow","host":"a.test"}']);
  await assert.rejects(net.suggestions({ wait: 'fleet' } as never), TypeError, 'a read takes no wait, even among the params');
});

test('abort: a call, a pager and a live log end when their signal is aborted', async () => {
  const client = await gw.tenant();
  const early = new AbortController();
  early.abort();
  await assert.rejects(client.sandboxes.create({}, { signal: early.signal }), APIUserAbortError);
  assert.equal((await collect(client.sandboxes.list())).length, 0, 'an aborted create sends nothing');

  // A call in flight, against a server that never answers.
  const server = createServer(() => undefined);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  try {
    const hang = new Portcullis({ baseURL: `http://127.0.0.1:${server.address().port}`, apiKey: 'k' });
    const controller = new AbortController();
    const call = hang.sandboxes.network('sbx_x').getPolicy({ signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    const started = Date.now();
    await assert.rejects(call, (e: unknown) => e instanceof APIUserAbortError && e instanceof PortcullisError && e.name === 'AbortError');
    assert.ok(Date.now() - started < 2000);
    const pages = new AbortController();
    const pager = hang.audit.list({}, { signal: pages.signal });
    setTimeout(() => pages.abort(), 100);
    await assert.rejects(collect(pager), APIUserAbortError);
  } finally {
    server.close();
  }

  // A live log waiting for events.
  const sandbox = await client.sandboxes.create();
  const controller = new AbortController();
  const log = await sandbox.network.log({}, { signal: controller.signal }).open();
  const reading = collect(log);
  await sleep(100);
  controller.abort();
  await assert.rejects(reading, APIUserAbortError);
  // `{ signal }` as the only argument (SDK.md), and the fetch idiom `{ name: 'AbortError' }`.
  const alone = new AbortController();
  const live = await sandbox.network.log({ signal: alone.signal }).open();
  const waiting = collect(live);
  await sleep(100);
  alone.abort();
  await assert.rejects(waiting, { name: 'AbortError' });
  const listing = new AbortController();
  listing.abort();
  await assert.rejects(client.audit.list({ signal: listing.signal }).toArray(), { name: 'AbortError' });
});
