// Every operation of the OpenAPI document has a method of this SDK, and the generated
// modules match the document. No server needed.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { operationMethods, operations, Portcullis } from '../src/index.js';
import { camel } from '../src/convert.js';
import { openapi, Recorder, ROOT } from './harness.js';

function documentOperations(doc: any): string[] {
  const ids: string[] = [];
  for (const item of Object.values<any>(doc.paths)) {
    for (const op of Object.values<any>(item)) if (op && typeof op === 'object' && op.operationId) ids.push(op.operationId);
  }
  return ids.sort();
}

/** The operations of `doc` that the SDK names no working method for. */
function missing(doc: any): string[] {
  const client = new Portcullis({ baseURL: 'http://127.0.0.1:9', apiKey: 'k' });
  const table = operationMethods as Record<string, string>;
  return documentOperations(doc).filter((id) => {
    const path = table[id];
    if (!path) return true;
    let target: any = client;
    let holder: any = client;
    for (const part of path.split('.')) {
      const name = part.replace(/\(\)$/, '');
      holder = target;
      target = target?.[name];
      if (part.endsWith('()')) target = typeof target === 'function' ? target.call(holder, 'sbx_x') : undefined;
    }
    return typeof target !== 'function';
  });
}

test('every operation of the OpenAPI document has an SDK method', () => {
  assert.deepEqual(missing(openapi()), []);
});

test('an operation added to the document is reported missing', () => {
  const doc = openapi();
  doc.paths['/api/v1/widgets'] = { get: { operationId: 'listWidgets', responses: { 200: { description: 'x' } } } };
  assert.deepEqual(missing(doc), ['listWidgets']);
});

test('the generated operation table is the document\'s', () => {
  const doc = openapi();
  assert.deepEqual(Object.keys(operations).sort(), documentOperations(doc));
  for (const [id, op] of Object.entries(operations)) {
    assert.ok(doc.paths[op.path]?.[op.method.toLowerCase()]?.operationId === id, id);
  }
});

test('generated modules are up to date with the document', () => {
  const r = spawnSync('python3', [join(ROOT, 'scripts', 'generate-sdk'), '--check', '--only', 'typescript'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});

test('every field name of the document has one camelCase spelling that maps back', () => {
  const doc = openapi();
  for (const [name, schema] of Object.entries<any>(doc.components.schemas)) {
    for (const field of Object.keys(schema.properties ?? {})) {
      if (field === 'networkProfile') continue; // the Isorun alias of network_profile
      assert.equal(camel(field).replace(/[A-Z]/g, (c) => '_' + c.toLowerCase()), field, `${name}.${field}`);
    }
  }
});

test('the tour\'s check of sent fields can fail', () => {
  const r = new Recorder();
  const rule = { $ref: '#/components/schemas/NewRule' };
  r.checkFields({ action: 'allow', host: 'x', warn_only: true }, rule, 'addSandboxRule');
  assert.throws(() => r.checkFields({ action: 'allow', host: 'x', warnOnly: true }, rule, 'addSandboxRule'), /warnOnly/);
});

const npm = spawnSync('bash', ['-c', 'command -v npm'], { encoding: 'utf8' }).status === 0;
test('npm install of a fresh copy (no dist/) builds it and the package imports', { skip: npm ? false : 'npm is not installed here' }, () => {
  // What a checkout holds (dist/ and build/ are git-ignored), installed offline into a project of its own:
  // the prepare script builds dist/ with tsc.
  const tmp = mkdtempSync(join(tmpdir(), 'portcullis-sdk-install-'));
  try {
    const script = `set -e
      mkdir -p "$1/sdk" "$1/app"
      cp -r src package.json tsconfig.json README.md "$1/sdk/"
      cd "$1/app"
      echo '{"name":"app","version":"1.0.0","private":true,"type":"module"}' > package.json
      npm install --offline --no-audit --no-fund --loglevel=error "$1/sdk" >&2
      node --input-type=module -e "import { Portcullis, NotFoundError } from '@portcullis/sdk'; console.log(typeof Portcullis, typeof NotFoundError)"`;
    const r = spawnSync('bash', ['-c', script, 'install', tmp], { encoding: 'utf8', cwd: join(ROOT, 'sdk', 'typescript'), timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'function function');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
