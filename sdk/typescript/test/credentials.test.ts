// Credentials (INSPECTION.md) through the TypeScript SDK: what `credentials.update` sends (a
// recording fetch, no server: the API replaces the whole credential, so a partial update
// reads it first, and only the write waits for the fleet), then the whole life of a credential
// against a live serve — create, attach (the placeholder comes back), rotate, detach, delete —
// with every raw answer the SDK read checked for the value.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { BadRequestError, ConflictError, NotFoundError, Portcullis, WaitOptions } from '../src/index.js';
import { Gateway, startGateway } from './harness.js';

const W: WaitOptions = { wait: 'fleet' };
const CREDENTIAL = {
  id: 'cred_1', name: 'openai', binding: { host: 'api.openai.test', port: 443, methods: null, path_prefix: '/v1' },
  placement: { kind: 'header', name: 'Authorization', format: 'Bearer {secret}' }, require: true,
  created_at: '2026-04-11T00:00:00Z', rotated_at: null,
};

function recording(sent: Array<[string, string, unknown]>): Portcullis {
  const fetchImpl = (async (input: any, init?: any) => {
    sent.push([init?.method ?? 'GET', String(input).replace('http://gateway.test', ''), init?.body ? JSON.parse(init.body) : null]);
    const status = init?.method === 'DELETE' ? 204 : 200;
    return new Response(status === 204 ? null : JSON.stringify(CREDENTIAL), { status, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
  return new Portcullis({ baseURL: 'http://gateway.test', apiKey: 'k', fetch: fetchImpl });
}

test('update sends the whole credential: what is given, the rest as it is now', async () => {
  const sent: Array<[string, string, unknown]> = [];
  const client = recording(sent);
  const rotated = await client.credentials.update('openai', { value: 'sk-new-secret' }, W);
  const current = { binding: CREDENTIAL.binding, placement: CREDENTIAL.placement, require: true };
  assert.deepEqual(sent, [
    ['GET', '/api/v1/credentials/openai', null],
    ['PUT', '/api/v1/credentials/openai?wait=fleet', { name: 'openai', ...current, value: 'sk-new-secret' }],
  ]);
  assert.equal(rotated.binding.pathPrefix, '/v1');
  sent.length = 0;
  await client.credentials.update('openai', { binding: { host: 'api.openai.test', pathPrefix: '/v2' }, placement: { kind: 'basic' }, require: false });
  assert.deepEqual(sent, [['PUT', '/api/v1/credentials/openai',
    { name: 'openai', binding: { host: 'api.openai.test', path_prefix: '/v2' }, placement: { kind: 'basic' }, require: false }]]);
});

test('attach and detach name the sandbox and the credential; bad names are refused before sending', async () => {
  const sent: Array<[string, string, unknown]> = [];
  const client = recording(sent);
  const net = client.sandboxes.network('sbx_1');
  await net.credentials.attach('open.ai', W);
  await net.credentials.detach('open.ai');
  assert.deepEqual(sent, [['POST', '/api/v1/sandboxes/sbx_1/network/credentials/open.ai?wait=fleet', null],
    ['DELETE', '/api/v1/sandboxes/sbx_1/network/credentials/open.ai', null]]);
  await assert.rejects(net.credentials.attach('..'), TypeError);
  await assert.rejects(client.credentials.get(''), TypeError);
  await assert.rejects(client.credentials.get('openai', W as never), TypeError, 'a read takes no wait');
  assert.equal(sent.length, 2);
});

test('the tenant-level spellings: create(name, …), replace (update is its alias), attach/detach by sandbox id', async () => {
  const sent: Array<[string, string, unknown]> = [];
  const client = recording(sent);
  const binding = { host: 'api.openai.test' };
  const placement = { kind: 'basic' as const };
  await client.credentials.create('openai', { value: 'sk-new-secret', binding, placement }, W);
  await client.credentials.create({ name: 'other', value: 'sk-new-secret', binding, placement });
  await client.credentials.replace('openai', { value: 'sk-newer-secret', binding, placement, require: true });
  await client.credentials.update('openai', { binding, placement, require: false });
  await client.credentials.attach('sbx_1', 'openai', W);
  await client.credentials.listAttached('sbx_1');
  await client.credentials.detach('sbx_1', 'openai');
  assert.deepEqual(sent, [
    ['POST', '/api/v1/credentials?wait=fleet', { value: 'sk-new-secret', binding, placement, name: 'openai' }],
    ['POST', '/api/v1/credentials', { name: 'other', value: 'sk-new-secret', binding, placement }],
    ['PUT', '/api/v1/credentials/openai', { name: 'openai', binding, placement, require: true, value: 'sk-newer-secret' }],
    ['PUT', '/api/v1/credentials/openai', { name: 'openai', binding, placement, require: false }],
    ['POST', '/api/v1/sandboxes/sbx_1/network/credentials/openai?wait=fleet', null],
    ['GET', '/api/v1/sandboxes/sbx_1/network/credentials', null],
    ['DELETE', '/api/v1/sandboxes/sbx_1/network/credentials/openai', null],
  ]);
});

/** Every header of an answer, as text (the test's lib typings give Headers no iterator). */
function headersText(headers: Headers): string {
  const lines: string[] = [];
  headers.forEach((value, name) => lines.push(`${name}: ${value}`));
  return lines.join('\n');
}

let gw: Gateway;
before(async () => { gw = await startGateway(); });
after(async () => { await gw?.stop(); });

test('a credential live: the placeholder comes back, the value never does', async () => {
  const secret = 'CANARY-ts-sk-live-9f8e7d6c5b4a3210';
  const rotated = 'ROTATED-ts-sk-live-0123456789abcdef';
  const answers: string[] = [];
  const keeping = (async (input: any, init?: any) => {
    const response = await fetch(input, init);
    answers.push(`${response.status} ${headersText(response.headers)} ${await response.clone().text()}`);
    return response;
  }) as typeof fetch;
  const client = await gw.tenant({ fetch: keeping });
  const created = await client.credentials.create('openai', {
    value: secret, binding: { host: 'api.openai.test', methods: ['GET', 'POST'] },
    placement: { kind: 'header', name: 'Authorization', format: 'Bearer {secret}' },
  }, W);
  assert.match(created.id, /^cred_/);
  assert.deepEqual(created.binding, { host: 'api.openai.test', port: 443, methods: ['GET', 'POST'], pathPrefix: null });
  const sandbox = await client.sandboxes.create({ mode: 'allowlist' });
  const attached = await sandbox.network.credentials.attach('openai', W);
  assert.match(attached.placeholder, /^pcx_[a-z2-7]{32}$/);
  assert.deepEqual(attached.binding, created.binding);

  const after = await client.credentials.replace('openai', { value: rotated }, W);
  assert.ok(after.rotatedAt !== null && after.id === created.id);
  assert.deepEqual([after.binding, after.placement, after.require], [created.binding, created.placement, false]);
  assert.deepEqual((await sandbox.network.credentials.list()).map((a) => [a.name, a.placeholder]), [['openai', attached.placeholder]],
    'the placeholder is kept across rotations');
  assert.equal((await client.credentials.attach(sandbox.id, 'openai')).placeholder, attached.placeholder, 'by sandbox id: the same attachment');
  assert.deepEqual((await client.credentials.listAttached(sandbox.id)).map((a) => a.placeholder), [attached.placeholder]);
  await assert.rejects(client.credentials.create({ name: 'openai', value: secret, binding: { host: 'api.openai.test' }, placement: { kind: 'basic' } }),
    ConflictError);
  await assert.rejects(client.credentials.create({ name: 'ip', value: secret, binding: { host: '10.0.0.1' }, placement: { kind: 'basic' } }),
    (e: unknown) => e instanceof BadRequestError && /binding\.host/.test(e.message));

  await client.credentials.detach(sandbox.id, 'openai', W);
  assert.deepEqual(await sandbox.network.credentials.list(), []);
  const again = await sandbox.network.credentials.attach('openai');
  assert.notEqual(again.placeholder, attached.placeholder, 'a detached placeholder is revoked; attaching anew gives another');
  await client.credentials.delete('openai', W);
  assert.deepEqual(await client.credentials.list(), []);
  assert.deepEqual(await sandbox.network.credentials.list(), [], 'deleting detaches everywhere');
  await assert.rejects(client.credentials.get('openai'), NotFoundError);
  for await (const _ of client.audit.list()) { /* read every page: no entry may carry a value */ }

  assert.ok(answers.length > 12);
  assert.deepEqual(answers.filter((a) => a.includes(secret) || a.includes(rotated)), []);
  await sandbox.destroy();
});
