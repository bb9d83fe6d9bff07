// The TypeScript of the source documents, copied with only the client's construction
// changed: 002_4351c856c6d963fe.txt (the MIOSA computers API; its Python recipe too) and
// 003_02ce71855a0b21a0.txt (Isorun's create-time network), and SDK.md's examples.
// Hosts are `.test` names on this test's upstream (github.com -> github.test, …); ports stay
// as written. `sandbox.exec('curl …')` is a request through the sandbox's own proxy settings.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { Portcullis } from '../src/index.js';
import { collect, connect, Gateway, proxied, startGateway, startUpstream, Upstream, waitFor } from './harness.js';

let gw: Gateway;
let up: Upstream;
before(async () => { gw = await startGateway(); up = await startUpstream(); });
after(async () => { await up?.close(); await gw?.stop(); });

/** A client built the way the documents build theirs: from the environment. */
async function fromEnvironment(): Promise<Portcullis> {
  const tenant = await gw.admin.tenants.create(`sources-${Date.now()}-${Math.random()}`);
  process.env.PORTCULLIS_URL = gw.api;
  process.env.PORTCULLIS_TOKEN = tenant.apiKey;
  return new Portcullis();
}

test('002 Quick Start: restrict to only allow HTTPS to GitHub and PyPI', async () => {
  const client = await fromEnvironment();
  const computer = await client.sandboxes.create();
  const computerId = computer.id;

  // Restrict to only allow HTTPS to GitHub and PyPI
  await client.networkPolicy.update(computerId, {
    mode: 'allowlist',
    rules: [
      { host: 'github.test',  port: 443, protocol: 'tcp' },
      { host: 'pypi.test',    port: 443, protocol: 'tcp' },
      { host: 'files.pythonhosted.test', port: 443, protocol: 'tcp' },
    ],
  });

  const policy = await client.networkPolicy.get(computerId);
  assert.equal(policy.mode, 'allowlist');
  assert.deepEqual(policy.rules.map((r) => [r.host, r.port, r.protocol]),
    [['github.test', 443, 'tcp'], ['pypi.test', 443, 'tcp'], ['files.pythonhosted.test', 443, 'tcp']]);
  const allowed = await connect(computer, 'github.test', 443);
  assert.equal(allowed.status, 502, 'allowed, and nothing listens on 443 here');
  const blocked = await connect(computer, 'example.test', 443);
  assert.equal(blocked.status, 403);
  assert.ok(blocked.ms < 2000, `blocked at once (${blocked.ms} ms)`);
  assert.equal((await connect(computer, 'github.test', 8443)).status, 403, 'port 443 only');
});

test('002 Allow only package registries for a build environment', async () => {
  const client = await fromEnvironment();
  const computerId = (await client.sandboxes.create()).id;
  const packageHosts = [
    { host: 'registry.npmjs.test', port: 443, protocol: 'tcp' as const },
    { host: 'pypi.test',           port: 443, protocol: 'tcp' as const },
    { host: 'files.pythonhosted.test', port: 443, protocol: 'tcp' as const },
    { host: 'pkg.go.test',         port: 443, protocol: 'tcp' as const },
    { host: 'proxy.golang.test',   port: 443, protocol: 'tcp' as const },
  ];

  await client.networkPolicy.update(computerId, {
    mode: 'allowlist',
    rules: packageHosts,
  });

  const net = client.sandboxes.network(computerId);
  for (const h of packageHosts) assert.equal((await net.explain(h.host, { port: 443 })).action, 'allow', h.host);
  assert.equal((await net.explain('github.test', { port: 443 })).rejectedBy, 'default-deny');
});

test('002 Block a known malicious IP range', async () => {
  const client = await fromEnvironment();
  const computerId = (await client.sandboxes.create()).id;
  await client.networkPolicy.update(computerId, {
    mode: 'denylist',
    rules: [
      { host: '185.220.0.0/16' },
    ],
  });

  const policy = await client.networkPolicy.get(computerId);
  assert.deepEqual([policy.mode, policy.rules.map((r) => [r.host, r.protocol])], ['denylist', [['185.220.0.0/16', 'any']]]);
  // Judged with explain: no packet is ever sent towards the range.
  const net = client.sandboxes.network(computerId);
  const rule = (await net.getPolicy()).denyRules[0];
  assert.equal((await net.explain('185.220.101.1', { port: 443 })).rejectedBy, rule.id);
  assert.equal((await net.explain('tor-exit.test', { port: 443, resolved: '185.220.101.1' })).rejectedBy, rule.id);
  assert.equal((await net.explain('github.test', { port: 443 })).action, 'allow');
});

test('002 Sandbox an untrusted AI task (the Python recipe, in TypeScript)', async () => {
  const client = await fromEnvironment();
  const computer = await client.sandboxes.create();
  const computerId = computer.id;
  // Lock down before running untrusted code
  await client.networkPolicy.update(computerId, { mode: 'isolated' });
  // Run the task: its network calls through the computer's proxy.
  assert.equal((await proxied(computer, `http://api.openai.test:${up.port}/`)).status, 403);
  // Restore after
  await client.networkPolicy.delete(computerId);
  assert.equal((await proxied(computer, `http://api.openai.test:${up.port}/`)).status, 200);
});

test('003 Allow only what you trust: create-time network, a blocked host failing at once', async () => {
  const isorun = await fromEnvironment();
  const sandbox = await isorun.sandboxes.create({
    network: {
      deny: ['0.0.0.0/0'], // block everything
      allow: ['api.openai.test', 'pypi.test'], // …except these
    },
  });
  try {
    const works = await proxied(sandbox, `http://pypi.test:${up.port}/simple/openai/`); // works
    assert.equal(works.status, 200);
    const r = await connect(sandbox, 'example.test', 443);
    console.log(r.status !== 200); // true (blocked)
    assert.equal(r.status, 403);
    assert.ok(r.ms < 2000, `blocked at once (${r.ms} ms)`);
    assert.equal(sandbox.mode, 'allowlist');
    const policy = await sandbox.network.getPolicy();
    assert.deepEqual(policy.denyRules.map((x) => x.host), ['0.0.0.0/0']);
  } finally {
    await sandbox.destroy();
  }
  await assert.rejects(isorun.sandboxes.get(sandbox.id));
});

test('003 Block specific hosts', async () => {
  const isorun = await fromEnvironment();
  const sandbox = await isorun.sandboxes.create({
    network: { deny: ['169.254.169.254', 'metadata.google.test'] },
  });
  try {
    assert.equal((await proxied(sandbox, `http://example.test:${up.port}/`)).status, 200); // works
    const r = await proxied(sandbox, `http://metadata.google.test:${up.port}/`);
    assert.equal(r.status, 403);
    assert.equal(sandbox.mode, 'denylist');
    const rule = (await sandbox.network.getPolicy()).denyRules.find((x) => x.host === '169.254.169.254')!;
    assert.equal((await sandbox.network.explain('169.254.169.254', { port: 80 })).rejectedBy, rule.id);
  } finally {
    await sandbox.destroy();
  }
});

test('SDK.md: networkProfile, warnOnly, the reject audit and the live log', async () => {
  const client = await fromEnvironment();
  const sandbox = await client.sandboxes.create({ network: { deny: ['0.0.0.0/0'], allow: ['api.openai.test', 'pypi.test'] } });
  const sandbox2 = await client.sandboxes.create({ networkProfile: 'default-package-managers' });
  assert.deepEqual(sandbox2.profiles, ['default-package-managers']);
  await sandbox.network.allow('api.experimental.example.test', { warnOnly: true });
  const log = await sandbox.network.log().open();
  assert.equal((await proxied(sandbox, `http://api.experimental.example.test:${up.port}/`)).status, 200);
  assert.equal((await proxied(sandbox, `http://example.test:${up.port}/`)).status, 403);
  const live = [];
  for await (const e of log) {
    live.push(`${e.action} ${e.host}`);
    if (live.length === 2) break;
  }
  assert.deepEqual(live, ['warn api.experimental.example.test', 'reject example.test']);
  const rejected = await waitFor(async () => {
    const found = [];
    for await (const e of client.audit.list({ action: 'reject' })) found.push(e);
    return found.length ? found : undefined;
  });
  assert.equal(rejected![0].host, 'example.test');
  assert.equal(rejected![0].rejectedBy, 'default-deny');
  assert.ok(await collect(sandbox.network.pending()));
});
