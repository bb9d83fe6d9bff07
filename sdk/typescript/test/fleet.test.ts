// The fleet (FLEET.md): `{ wait: 'fleet' }` sent only where policy changes and its 202 read as
// FleetLaggingError (a recording fetch, no server); then two `serve` nodes on a PostgreSQL
// cluster of this file's own: `client.nodes.list()`, a waited change answering once both
// nodes have it, and FleetLaggingError naming a node stopped with SIGSTOP (alive, not yet
// `down`, applying nothing) while the change is made all the same. Needs PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { APIStatusError, FleetLaggingError, Fleet, Portcullis, PortcullisError, WaitOptions } from '../src/index.js';
import { Gateway, Postgres, sleep, startGateway, startPostgres } from './harness.js';

const W: WaitOptions = { wait: 'fleet' };
const RULE = {
  id: 'rul_1', action: 'allow', host: 'example.test', port: null, protocol: 'any', methods: null, paths: null, warn_only: false,
  except: null, note: null, source: 'local', created_at: '2026-04-11T00:00:00Z',
};

function fake(status: number, body: unknown, seen: string[] = []): Portcullis {
  const fetchImpl = (async (input: any, init?: any) => {
    seen.push(`${init?.method ?? 'GET'} ${String(input)}`);
    return new Response(typeof body === 'string' ? body : JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
  return new Portcullis({ baseURL: 'http://gateway.test', apiKey: 'k', fetch: fetchImpl });
}

test('wait is sent only on policy-changing calls, and only as fleet', async () => {
  const seen: string[] = [];
  const client = fake(201, RULE, seen);
  await client.sandboxes.network('sbx_1').allow('example.test', {}, W);
  await client.sandboxes.network('sbx_1').allow('example.test');
  assert.deepEqual(seen, ['POST http://gateway.test/api/v1/sandboxes/sbx_1/network/rules?wait=fleet',
    'POST http://gateway.test/api/v1/sandboxes/sbx_1/network/rules']);
  // Not in the types; refused at run time too, before anything is sent.
  await assert.rejects(client.templates.create('t', {}, W as any), /createTemplate changes no policy/);
  await assert.rejects(client.sandboxes.network('sbx_1').observe({ wait: 'soon' } as any), /wait must be 'fleet'/);
  assert.equal(seen.length, 2);
});

test('the 202 of a waited change is a FleetLaggingError', async () => {
  const client = fake(202, { policy_version: 42, lagging: ['gw-b', 'gw-c'] });
  const error = await client.network.lockdown(W).catch((e: unknown) => e);
  if (!(error instanceof FleetLaggingError)) throw new Error(`not a FleetLaggingError: ${error}`);
  assert.ok(error instanceof PortcullisError && !(error instanceof APIStatusError));
  assert.equal(error.policyVersion, 42);
  assert.deepEqual(error.lagging, ['gw-b', 'gw-c']);
  assert.equal(error.status, 202);
  assert.match(error.message, /was made.*gw-b, gw-c/);
  assert.equal(error.result, undefined);
  // The call's own answer travels inside the 202: a created sandbox is not lost.
  const made = await fake(202, { policy_version: 43, lagging: ['gw-b'], status: 201, result: { id: 'sbx_9' } })
    .sandboxes.create({}, W).catch((e: unknown) => e);
  if (!(made instanceof FleetLaggingError)) throw new Error(`not a FleetLaggingError: ${made}`);
  assert.deepEqual([made.result, made.resultStatus], [{ id: 'sbx_9' }, 201]);
  await assert.rejects(client.sandboxes.delete('sbx_1', W), FleetLaggingError);
  await assert.rejects(fake(202, 'accepted').network.observe(W), (e: unknown) => e instanceof APIStatusError && e.status === 202);
});

let pg: Postgres;
const nodes: Gateway[] = [];
before(async () => {
  pg = await startPostgres();
  for (const id of ['node-a', 'node-b']) nodes.push(await startGateway(pg.nodeArgs(id)));
});
after(async () => {
  for (const n of nodes) await n.stop();
  pg?.close();
});

async function until<T>(fn: () => Promise<T | undefined>, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what} not within ${ms} ms`);
    await sleep(50);
  }
}

test('two nodes: nodes.list(), and a waited change answered once both have it', async () => {
  const [a, b] = nodes;
  const fleet: Fleet = await until(async () => {
    const f = await a.admin.nodes.list();
    return f.length === 2 && f.every((n) => n.state === 'up') ? f : undefined;
  }, 10_000, 'two nodes up');
  assert.deepEqual(fleet.map((n) => n.id), ['node-a', 'node-b']);
  assert.ok(fleet.every((n) => n.lag === fleet.policyVersion - n.appliedPolicyVersion));
  const sbx = await a.admin.sandboxes.create({ network: { allow: ['allowed.test'] } }, W);
  const rule = await sbx.network.allow('other.test', {}, W);
  // Answered: node-b has applied it already.
  assert.ok((await b.admin.sandboxes.network(sbx.id).getPolicy()).allowRules.some((r) => r.id === rule.id));
  const after = await b.admin.nodes.list();
  assert.ok(after.every((n) => n.appliedPolicyVersion === after.policyVersion && n.lag === 0));
  await sbx.destroy(W);
});

test('a node that does not apply in time: FleetLaggingError, and the change is made', async () => {
  const [a, b] = nodes;
  const sbx = await a.admin.sandboxes.create({}, W);
  b.signal('SIGSTOP');
  let error: unknown;
  const started = Date.now();
  try {
    error = await sbx.network.allow('other.test', { note: 'made all the same' }, W).catch((e: unknown) => e);
  } finally {
    b.signal('SIGCONT');
  }
  const took = Date.now() - started;
  if (!(error instanceof FleetLaggingError)) throw new Error(`not a FleetLaggingError: ${error}`);
  assert.deepEqual(error.lagging, ['node-b']);
  assert.ok(took >= 4500 && took < 8000, `${took} ms`);
  assert.deepEqual((await sbx.network.getPolicy()).allowRules.map((r) => r.note), ['made all the same']);
  const version = error.policyVersion;
  await until(async () => {
    const f = await a.admin.nodes.list();
    return f.every((n) => n.state === 'up' && n.appliedPolicyVersion >= version) ? f : undefined;
  }, 10_000, 'node-b catching up');
  await sbx.destroy(W);
});
