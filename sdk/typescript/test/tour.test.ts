// Every operation of the OpenAPI document through the SDK against a live serve. The
// operations are recovered from the requests the client's fetch saw (not from the SDK's
// tables); the tour fails if one is missing. Answers are camelCase throughout. Every
// policy-changing call passes `{ wait: 'fleet' }` (one node on SQLite is a fleet of one, so
// each answers as usual); the Python tour checks which calls change serve's policy version.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { AuditEntry, NotFoundError, operations, Portcullis, Rule, Sandbox, SandboxPolicy, WaitOptions } from '../src/index.js';
import { ADMIN, collect, Gateway, proxied, Recorder, startGateway, startUpstream, Upstream, waitFor } from './harness.js';

const W: WaitOptions = { wait: 'fleet' };
let gw: Gateway;
let up: Upstream;
before(async () => { gw = await startGateway(); up = await startUpstream(); });
after(async () => { await up?.close(); await gw?.stop(); });

/** Fails if any key of an answer is snake_case. */
function camelOnly(value: unknown, where = 'answer'): void {
  if (Array.isArray(value)) value.forEach((v, i) => camelOnly(v, `${where}[${i}]`));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      assert.ok(!k.includes('_'), `${where}.${k} is snake_case`);
      camelOnly(v, `${where}.${k}`);
    }
  }
}

test('every operation, from the sandbox verbs to the compat API', async () => {
  const recorder = new Recorder();
  const admin = new Portcullis({ baseURL: gw.api, apiKey: ADMIN, fetch: recorder.fetch });
  const client = await gw.tenant({ fetch: recorder.fetch });
  const base = `:${up.port}`;

  assert.equal(await client.health(), 'ok');
  assert.deepEqual((await client.readiness()).ready, true);
  assert.match(await client.metrics(), /portcullis/);

  const t = await admin.tenants.create('tour-ts-other', W);
  camelOnly(t);
  assert.match(t.id, /^tnt_/);
  assert.ok(t.apiKey && t.keyId);
  assert.ok((await collect(admin.tenants.list({ limit: 1 }))).some((x) => x.id === t.id));
  const key = await admin.tenants.createKey(t.id);
  await admin.tenants.revokeKey(t.id, key.id);

  const fleet = await admin.nodes.list();
  assert.ok(Array.isArray(fleet) && fleet.policyVersion >= 1);
  assert.equal(fleet.length, 1);
  const [node] = fleet;
  camelOnly(node);
  assert.equal(node.state, 'up');
  assert.ok(gw.api.endsWith(node.apiAddress));
  assert.equal(node.lag, fleet.policyVersion - node.appliedPolicyVersion);
  assert.match(node.lastHeartbeat, /^\d{4}-/);

  const sbx: Sandbox = await client.sandboxes.create({ name: 'tour', network: { allow: ['api.openai.test'] } }, W);
  camelOnly(JSON.parse(JSON.stringify(sbx)));
  assert.ok(sbx instanceof Sandbox);
  assert.equal(sbx.mode, 'allowlist');
  assert.equal(sbx.ownMode, 'allowlist');
  assert.equal(sbx.proxy.username, sbx.id);
  assert.equal((await client.sandboxes.get(sbx.id)).id, sbx.id);
  assert.ok((await collect(client.sandboxes.list())).some((s) => s.id === sbx.id));
  assert.equal((await client.sandboxes.update(sbx.id, { name: 'renamed' }, W)).name, 'renamed');
  assert.equal((await client.sandboxes.update(sbx.id, { sourceAddresses: [] }, W)).name, 'renamed', 'PATCH changes only what is given');
  assert.match(await client.sandboxes.caPem(sbx.id), /^-----BEGIN CERTIFICATE-----/);

  const net = sbx.network;
  const warn: Rule = await net.allow('pypi.test', { warnOnly: true, note: 'trial' }, W);
  camelOnly(warn);
  assert.equal(warn.warnOnly, true);
  assert.equal(warn.source, 'local');
  const deny = await net.deny('*.metadata.test', { except: ['ok.metadata.test'] }, W);
  assert.deepEqual(deny.except, ['ok.metadata.test']);
  let policy: SandboxPolicy = await net.getPolicy();
  camelOnly(policy);
  assert.deepEqual(policy.allowRules.map((r) => r.host).sort(), ['api.openai.test', 'pypi.test']);
  await net.removeRule(deny.id, W);
  assert.deepEqual((await net.getPolicy()).denyRules, []);
  const inspected = await net.allow('api.openai.test', { port: 443, inspect: true }, W);
  assert.equal(inspected.inspect, true);
  assert.equal(warn.inspect, null);
  await net.removeRule(inspected.id, W);
  const explained = await net.explain('pypi.test', { port: 80 });
  assert.equal(explained.action, 'warn');
  assert.equal(explained.ruleId, warn.id);
  policy = await net.attachProfile('pypi', W);
  assert.ok(policy.profiles.includes('pypi'));
  assert.ok(!(await net.detachProfile('pypi', W)).profiles.includes('pypi'));

  const log = sbx.network.log();
  await log.open();
  assert.equal((await proxied(sbx, `http://api.openai.test${base}/`)).status, 200);
  const rejected = await proxied(sbx, `http://other.test${base}/`);
  assert.equal(rejected.status, 403);
  assert.equal(rejected.reason, 'default-deny');
  const events: AuditEntry[] = await collect(log, 2);
  camelOnly(events);
  assert.deepEqual(events.map((e) => [e.host, e.action, e.sandboxId]), [['api.openai.test', 'allow', sbx.id], ['other.test', 'reject', sbx.id]]);
  assert.equal(events[1].rejectedBy, 'default-deny');

  assert.equal((await proxied(sbx, `http://denied.test${base}/`)).status, 403);
  const pending = await waitFor(async () => { const ps = await collect(net.pending()); return ps.length === 2 ? ps : undefined; });
  camelOnly(JSON.parse(JSON.stringify(pending)));
  const byHost = new Map(pending!.map((p) => [p.host, p]));
  assert.deepEqual([...byHost.keys()].sort(), ['denied.test', 'other.test']);
  const allowed = await byHost.get('other.test')!.allow({}, W);
  assert.equal(allowed.rule.host, 'other.test');
  assert.equal(allowed.rule.action, 'allow');
  assert.equal((await net.blockPending(byHost.get('denied.test')!.id, {}, W)).rule.action, 'deny');
  assert.equal((await proxied(sbx, `http://allowed.test${base}/`)).status, 403);
  await waitFor(async () => (await collect(net.pending())).length > 0);
  // Awaited, the pager is the queue as an array (SDK.md's `sandbox.network.pending()`).
  const queue = await net.pending();
  assert.deepEqual(queue.map((p) => p.host), ['allowed.test']);
  assert.equal((await queue[0].block({}, W)).rule.host, 'allowed.test');
  assert.deepEqual(await net.pending(), []);
  assert.equal((await proxied(sbx, `http://files.pythonhosted.test${base}/`)).status, 403);
  const [entry2] = (await waitFor(async () => { const ps = await collect(net.pending()); return ps.length ? ps : undefined; }))!;
  assert.equal((await net.allowPending(entry2.id, { scope: 'sandbox' }, W)).rule.host, 'files.pythonhosted.test');

  const suggestions = await net.suggestions({ since: '7d' });
  assert.equal(suggestions.since, '7d');
  assert.ok(suggestions.items.some((s) => s.host === 'api.openai.test'));
  assert.equal((await net.observe(W)).mode, 'audit');
  assert.equal((await net.lockdown({ hosts: ['allowed.test'] }, W)).mode, 'allowlist');
  const cleared = await net.clearRules(W);
  assert.deepEqual([cleared.allowRules, cleared.denyRules], [[], []]);

  await net.allow('api.openai.test', { methods: ['GET'] }, W);
  const exported = await net.getPolicy();
  const other = await client.sandboxes.create({}, W);
  const copied = await other.network.replacePolicy(exported, W);
  assert.equal(copied.mode, 'allowlist');
  assert.deepEqual(copied.allowRules.map((r) => [r.host, r.methods]), [['api.openai.test', ['GET']]]);

  const secret = 'sk-tour-ts-first-secret';
  const rotated = 'sk-tour-ts-second-secret';
  const cred = await client.credentials.create({
    name: 'openai', value: secret, binding: { host: 'api.openai.test' },
    placement: { kind: 'header', name: 'Authorization', format: 'Bearer {secret}' },
  }, W);
  camelOnly(cred);
  assert.match(cred.id, /^cred_/);
  assert.deepEqual(cred.binding, { host: 'api.openai.test', port: 443, methods: null, pathPrefix: null });
  assert.deepEqual([cred.placement.format, cred.require, cred.rotatedAt], ['Bearer {secret}', false, null]);
  assert.deepEqual((await client.credentials.list()).map((c) => c.name), ['openai']);
  assert.equal((await client.credentials.get('openai')).id, cred.id);
  const attached = await net.credentials.attach('openai', W);
  camelOnly(attached);
  assert.match(attached.placeholder, /^pcx_[a-z2-7]{32}$/);
  assert.equal((await net.credentials.attach('openai', W)).placeholder, attached.placeholder);
  assert.deepEqual((await net.credentials.list()).map((a) => [a.name, a.placeholder]), [['openai', attached.placeholder]]);
  let changed = await client.credentials.update('openai', { value: rotated }, W);
  assert.ok(changed.rotatedAt !== null);
  assert.deepEqual([changed.binding, changed.placement], [cred.binding, cred.placement]);
  changed = await client.credentials.update('openai', { require: true, binding: { host: 'api.openai.test', pathPrefix: '/v1' } }, W);
  assert.deepEqual([changed.require, changed.binding.pathPrefix, changed.placement], [true, '/v1', cred.placement]);
  assert.deepEqual((await net.credentials.list()).map((a) => a.placeholder), [attached.placeholder]);
  const shown = JSON.stringify([cred, changed, await client.credentials.list(), await net.credentials.list()]);
  assert.ok(!shown.includes(secret) && !shown.includes(rotated));
  await net.credentials.detach('openai', W);
  assert.deepEqual(await net.credentials.list(), []);
  await client.credentials.delete('openai', W);
  await assert.rejects(client.credentials.get('openai'), NotFoundError);

  const profiles = await client.profiles.list();
  assert.ok(profiles.some((p) => p.builtin && p.name === 'default-package-managers'));
  assert.equal((await client.profiles.get('pypi')).builtin, true);
  const mine = await client.profiles.create('internal', { rules: [{ action: 'allow', host: 'allowed.test' }], description: 'ours' }, W);
  assert.deepEqual(mine.hosts, ['allowed.test']);
  assert.deepEqual((await client.profiles.replace('internal', { rules: [{ action: 'allow', host: 'other.test' }] }, W)).hosts, ['other.test']);
  await client.profiles.delete('internal', W);

  let tpl = await client.templates.create('locked', exported);
  assert.equal(tpl.mode, 'allowlist');
  assert.deepEqual((await client.templates.list()).map((x) => x.name), ['locked']);
  tpl = await client.templates.replace('locked', { ...tpl, mode: 'denylist', denyRules: [{ host: 'denied.test' }] });
  assert.equal(tpl.mode, 'denylist');
  assert.equal((await client.templates.get('locked')).mode, 'denylist');
  const fromTemplate = await client.sandboxes.create({ template: 'locked' }, W);
  assert.equal(fromTemplate.mode, 'denylist');
  await client.templates.delete('locked');

  const tenantRule = await client.network.allow('allowed.test', {}, W);
  assert.equal(tenantRule.source, 'tenant');
  const tenantDeny = await client.network.deny('denied.test', {}, W);
  let tp = await client.network.getPolicy();
  camelOnly(tp);
  await client.network.removeRule(tenantDeny.id, W);
  assert.equal((await client.network.lockdown(W)).defaultMode, 'allowlist');
  assert.equal((await client.network.observe(W)).defaultMode, 'audit');
  tp = await client.network.replacePolicy({ ...tp, defaultMode: 'audit', denyRules: [] }, W);
  assert.deepEqual(tp.allowRules.map((r) => r.host), ['allowed.test']);

  const cp = await client.networkPolicy.update(other.id, { mode: 'allowlist', rules: [{ host: 'github.test', port: 443, protocol: 'tcp' }] }, W);
  camelOnly(cp);
  assert.equal(cp.computerId, other.id);
  assert.equal((await client.networkPolicy.get(other.id)).rules[0].host, 'github.test');
  assert.equal((await client.networkPolicy.delete(other.id, W)).mode, 'audit');

  const rejects = await collect(client.audit.list({ sandbox: sbx.id, action: 'reject' }));
  assert.ok(rejects.length > 0 && rejects.every((e) => e.action === 'reject'));
  const all = await collect(client.audit.export({ sandbox: sbx.id }));
  assert.ok(rejects.every((r) => all.some((e) => e.id === r.id)));
  const stream = client.audit.stream({ action: 'allow' });
  await stream.open();
  assert.equal((await proxied(other, `http://allowed.test${base}/`)).status, 200);
  const [live] = await collect(stream, 1);
  assert.deepEqual([live.host, live.sandboxId], ['allowed.test', other.id]);

  for (const s of [sbx, other, fromTemplate]) await s.destroy(W);
  await assert.rejects(client.sandboxes.get(sbx.id), NotFoundError);

  assert.deepEqual([...recorder.all].filter((id) => !recorder.seen.has(id)), []);
  const fleetWait = Object.entries(operations).filter(([, op]) => op.fleetWait).map(([id]) => id).sort();
  assert.deepEqual([...recorder.waited].sort(), fleetWait);
});
