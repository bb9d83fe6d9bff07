import { fromWire } from './convert.js';
import { SandboxCredentials } from './credentials.js';
import type {
  ExplainRequest, Explanation, ExportedPolicy, LockdownRequest, PendingData, PendingResolution, PendingResolved, Rule,
  SandboxCreate, SandboxData, SandboxPolicy, SandboxUpdate, Suggestions,
} from './models.js';
import { Pager, pager } from './paging.js';
import { AllowOptions, allowRule, DenyOptions, denyRule } from './rules.js';
import { EventStream } from './stream.js';
import { RequestOptions, splitOptions, Transport, WaitOptions } from './transport.js';
import type { AuditEntry } from './models.js';

export interface Sandbox extends SandboxData {}

/** A sandbox as the API answered it, with `.network` (its controls) and `destroy()`. */
export class Sandbox {
  readonly #transport: Transport;

  constructor(transport: Transport, data: SandboxData) {
    this.#transport = transport;
    Object.assign(this, data);
  }

  /** This sandbox's network controls: allow, deny, lockdown, observe, pending, log, … */
  get network(): SandboxNetwork {
    return new SandboxNetwork(this.#transport, this.id);
  }

  /** Deletes the sandbox; its proxy credential stops working at once. */
  async destroy(opts?: WaitOptions): Promise<void> {
    await new Sandboxes(this.#transport).delete(this.id, opts);
  }
}

export interface Pending extends PendingData {}

/** A pending entry (a host rejected for want of a rule), with one-click `allow()` and `block()`. */
export class Pending {
  readonly #network: SandboxNetwork;

  constructor(network: SandboxNetwork, data: PendingData) {
    this.#network = network;
    Object.assign(this, data);
  }

  /** Adds an exact allow rule for this host and port (`{ scope: 'tenant' }`: tenant-wide) and removes the entry. */
  allow(params?: PendingResolution & WaitOptions, opts?: WaitOptions): Promise<PendingResolved> {
    return this.#network.allowPending(this.id, params, opts);
  }

  /** Adds an exact deny rule for this host and port (`{ scope: 'tenant' }`: tenant-wide) and removes the entry. */
  block(params?: PendingResolution & WaitOptions, opts?: WaitOptions): Promise<PendingResolved> {
    return this.#network.blockPending(this.id, params, opts);
  }
}

/** `client.sandboxes`. */
export class Sandboxes {
  readonly #transport: Transport;

  constructor(transport: Transport) {
    this.#transport = transport;
  }

  #bind = (data: SandboxData) => new Sandbox(this.#transport, data);

  /**
   * Creates a sandbox. `template` or `cloneFrom` is copied first; `network: { allow, deny }`,
   * `networkProfile`, `profiles` and `mode` apply on top. Its `proxy` holds the settings its traffic uses.
   */
  async create(params: SandboxCreate & WaitOptions = {}, opts?: WaitOptions): Promise<Sandbox> {
    const [body, options] = splitOptions(params, opts);
    const { data } = await this.#transport.read('createSandbox', { body: body ?? {} }, options);
    return this.#bind(fromWire(data));
  }

  async get(sandboxId: string, opts?: RequestOptions): Promise<Sandbox> {
    const { data } = await this.#transport.read('getSandbox', { path: [sandboxId] }, opts);
    return this.#bind(fromWire(data));
  }

  /** Every sandbox of the tenant, newest first; pages are fetched as you iterate. */
  list(params: { limit?: number } & RequestOptions = {}, opts?: RequestOptions): Pager<Sandbox> {
    const [query, options] = splitOptions(params, opts);
    return pager(this.#transport, 'listSandboxes', [], { ...query }, options, this.#bind);
  }

  /** Changes only what is given; `name: null` removes the name. */
  async update(sandboxId: string, params: SandboxUpdate, opts?: WaitOptions): Promise<Sandbox> {
    const { data } = await this.#transport.read('updateSandbox', { path: [sandboxId], body: params }, opts);
    return this.#bind(fromWire(data));
  }

  async delete(sandboxId: string, opts?: WaitOptions): Promise<void> {
    await this.#transport.read('deleteSandbox', { path: [sandboxId] }, opts);
  }

  /** The sandbox's CA certificate (PEM): what its clients trust, besides the system's roots, for the HTTPS the gateway terminates. */
  async caPem(sandboxId: string, opts?: RequestOptions): Promise<string> {
    return (await this.#transport.read<string>('getSandboxCA', { path: [sandboxId] }, opts)).data;
  }

  /** The network controls of a sandbox known by id, without reading it first. */
  network(sandboxId: string): SandboxNetwork {
    return new SandboxNetwork(this.#transport, sandboxId);
  }
}

/** One sandbox's policy: rules, mode, profiles, pending queue, suggestions, explain, live log. */
export class SandboxNetwork {
  readonly #transport: Transport;
  readonly sandboxId: string;

  constructor(transport: Transport, sandboxId: string) {
    this.#transport = transport;
    this.sandboxId = sandboxId;
  }

  /** The credentials attached to this sandbox: `attach(name)` (the placeholder), `list()`, `detach(name)`. */
  get credentials(): SandboxCredentials {
    return new SandboxCredentials(this.#transport, this.sandboxId);
  }

  async #policy(id: 'clearSandboxRules' | 'lockdownSandbox' | 'observeSandbox' | 'getSandboxPolicy' | 'replaceSandboxPolicy',
                body: unknown, opts?: WaitOptions): Promise<SandboxPolicy> {
    const { data } = await this.#transport.read(id, { path: [this.sandboxId], body }, opts);
    return fromWire(data);
  }

  /**
   * Allows `host` (exact, `*.` wildcard, IP or CIDR); `{ warnOnly: true }` lets it through in allowlist mode, logged as `warn`;
   * `{ inspect: true | false }` has the gateway terminate its TLS always / never (left out: when methods, paths or a credential need it).
   */
  async allow(host: string, options?: AllowOptions & WaitOptions, opts?: WaitOptions): Promise<Rule> {
    const [rule, request] = splitOptions(options, opts);
    const { data } = await this.#transport.read('addSandboxRule', { path: [this.sandboxId], body: allowRule(host, rule) }, request);
    return fromWire(data);
  }

  /** Denies `host` (deny always wins); `{ except: [...] }` carves out hosts it does not cover. */
  async deny(host: string, options?: DenyOptions & WaitOptions, opts?: WaitOptions): Promise<Rule> {
    const [rule, request] = splitOptions(options, opts);
    const { data } = await this.#transport.read('addSandboxRule', { path: [this.sandboxId], body: denyRule(host, rule) }, request);
    return fromWire(data);
  }

  /** Removes one local rule (a tenant or profile rule rejects with ConflictError naming its source). */
  async removeRule(ruleId: string, opts?: WaitOptions): Promise<void> {
    await this.#transport.read('deleteSandboxRule', { path: [this.sandboxId, ruleId] }, opts);
  }

  /** Removes every local rule; mode and profiles are kept. */
  clearRules(opts?: WaitOptions): Promise<SandboxPolicy> {
    return this.#policy('clearSandboxRules', undefined, opts);
  }

  /** Switches to allowlist (enforce); `hosts` adds allow rules first, `fromSuggestions: '7d'` allows what was suggested. */
  lockdown(params?: LockdownRequest & WaitOptions, opts?: WaitOptions): Promise<SandboxPolicy> {
    return this.#policy('lockdownSandbox', ...splitOptions(params, opts));
  }

  /** Back to audit (observe): everything logged, nothing blocked; rules are kept. */
  observe(opts?: WaitOptions): Promise<SandboxPolicy> {
    return this.#policy('observeSandbox', undefined, opts);
  }

  /** Mode, own mode, local allow and deny rules, profiles, and the effective policy. */
  getPolicy(opts?: RequestOptions): Promise<SandboxPolicy> {
    return this.#policy('getSandboxPolicy', undefined, opts);
  }

  /** Replaces own mode, local rules and profiles with an exported policy (e.g. another sandbox's `getPolicy()`). */
  replacePolicy(policy: ExportedPolicy, opts?: WaitOptions): Promise<SandboxPolicy> {
    return this.#policy('replaceSandboxPolicy', policy, opts);
  }

  async attachProfile(name: string, opts?: WaitOptions): Promise<SandboxPolicy> {
    const { data } = await this.#transport.read('attachProfile', { path: [this.sandboxId, name] }, opts);
    return fromWire(data);
  }

  async detachProfile(name: string, opts?: WaitOptions): Promise<SandboxPolicy> {
    const { data } = await this.#transport.read('detachProfile', { path: [this.sandboxId, name] }, opts);
    return fromWire(data);
  }

  /** Hosts contacted in the window (`{ since: '7d' }`), most used first, with recommendations. */
  async suggestions(params: { since?: string } & RequestOptions = {}, opts?: RequestOptions): Promise<Suggestions> {
    const [query, options] = splitOptions(params, opts);
    const { data } = await this.#transport.read('getSuggestions', { path: [this.sandboxId], query }, options);
    return fromWire(data);
  }

  /** The pending queue, most recently seen first; each entry has `.allow()` and `.block()`. */
  pending(params: { limit?: number } & RequestOptions = {}, opts?: RequestOptions): Pager<Pending> {
    const [query, options] = splitOptions(params, opts);
    return pager(this.#transport, 'listPending', [this.sandboxId], { ...query }, options, (d: PendingData) => new Pending(this, d));
  }

  async allowPending(pendingId: string, params?: PendingResolution & WaitOptions, opts?: WaitOptions): Promise<PendingResolved> {
    const [body, options] = splitOptions(params, opts);
    const { data } = await this.#transport.read('allowPending', { path: [this.sandboxId, pendingId], body }, options);
    return fromWire(data);
  }

  async blockPending(pendingId: string, params?: PendingResolution & WaitOptions, opts?: WaitOptions): Promise<PendingResolved> {
    const [body, options] = splitOptions(params, opts);
    const { data } = await this.#transport.read('blockPending', { path: [this.sandboxId, pendingId], body }, options);
    return fromWire(data);
  }

  /** The decision the gateway would take now for `host` (nothing is logged or queued). */
  async explain(host: string, params: Omit<ExplainRequest, 'host'> & RequestOptions = {}, opts?: RequestOptions): Promise<Explanation> {
    const [fields, options] = splitOptions(params, opts);
    const { data } = await this.#transport.read('explainDecision', { path: [this.sandboxId], body: { ...fields, host } }, options);
    return fromWire(data);
  }

  /** The live log of this sandbox: audit entries as they are written (`{ action: 'reject' }` filters). */
  log(params: { action?: AuditEntry['action'] } & RequestOptions = {}, opts?: RequestOptions): EventStream<AuditEntry> {
    const [query, options] = splitOptions(params, opts);
    return new EventStream(this.#transport, 'streamAudit', { query: { ...query, sandbox: this.sandboxId } }, options);
  }
}
