import { fromWire } from './convert.js';
import type {
  ApiKeyCreated, ComputerPolicy, ComputerPolicyInput, ComputerReset, Rule, Tenant, TenantCreated, TenantPolicy, TenantPolicyInput,
} from './models.js';
import { Pager, pager } from './paging.js';
import { AllowOptions, allowRule, DenyOptions, denyRule } from './rules.js';
import { RequestOptions, splitOptions, Transport, WaitOptions } from './transport.js';

/** `client.network`: rules for every sandbox of the tenant, and the tenant's default mode. */
export class TenantNetwork {
  readonly #transport: Transport;

  constructor(transport: Transport) {
    this.#transport = transport;
  }

  /** Allows `host` for every sandbox of the tenant. */
  async allow(host: string, options?: AllowOptions & WaitOptions, opts?: WaitOptions): Promise<Rule> {
    const [rule, request] = splitOptions(options, opts);
    return fromWire((await this.#transport.read('addTenantRule', { body: allowRule(host, rule) }, request)).data);
  }

  /** Denies `host` for every sandbox of the tenant. */
  async deny(host: string, options?: DenyOptions & WaitOptions, opts?: WaitOptions): Promise<Rule> {
    const [rule, request] = splitOptions(options, opts);
    return fromWire((await this.#transport.read('addTenantRule', { body: denyRule(host, rule) }, request)).data);
  }

  async removeRule(ruleId: string, opts?: WaitOptions): Promise<void> {
    await this.#transport.read('deleteTenantRule', { path: [ruleId] }, opts);
  }

  /** The tenant's default mode to allowlist (enforce); sandboxes without their own mode follow. */
  async lockdown(opts?: WaitOptions): Promise<TenantPolicy> {
    return fromWire((await this.#transport.read('lockdownTenant', {}, opts)).data);
  }

  /** The tenant's default mode back to audit; rules are kept. */
  async observe(opts?: WaitOptions): Promise<TenantPolicy> {
    return fromWire((await this.#transport.read('observeTenant', {}, opts)).data);
  }

  async getPolicy(opts?: RequestOptions): Promise<TenantPolicy> {
    return fromWire((await this.#transport.read('getTenantPolicy', {}, opts)).data);
  }

  /** Replaces default mode, default profiles and tenant-wide rules (what is left out is emptied). */
  async replacePolicy(policy: TenantPolicyInput, opts?: WaitOptions): Promise<TenantPolicy> {
    return fromWire((await this.#transport.read('replaceTenantPolicy', { body: policy }, opts)).data);
  }
}

/** `client.networkPolicy`: the MIOSA computers API (`/api/v1/computers/{id}/network-policy`). */
export class NetworkPolicy {
  readonly #transport: Transport;

  constructor(transport: Transport) {
    this.#transport = transport;
  }

  async get(computerId: string, opts?: RequestOptions): Promise<ComputerPolicy> {
    return fromWire((await this.#transport.read('getComputerNetworkPolicy', { path: [computerId] }, opts)).data);
  }

  /** Replaces the whole policy: `mode` and `rules` (`{ host, port?, protocol? }`). */
  async update(computerId: string, params: ComputerPolicyInput, opts?: WaitOptions): Promise<ComputerPolicy> {
    return fromWire((await this.#transport.read('setComputerNetworkPolicy', { path: [computerId], body: params }, opts)).data);
  }

  /** Back to the tenant's default mode; local rules are removed. */
  async delete(computerId: string, opts?: WaitOptions): Promise<ComputerReset> {
    return fromWire((await this.#transport.read('resetComputerNetworkPolicy', { path: [computerId] }, opts)).data);
  }
}

/** `client.tenants` (admin key only). */
export class Tenants {
  readonly #transport: Transport;

  constructor(transport: Transport) {
    this.#transport = transport;
  }

  /** A tenant and its first API key (`apiKey`, shown only in this answer). */
  async create(name: string, opts?: WaitOptions): Promise<TenantCreated> {
    return fromWire((await this.#transport.read('createTenant', { body: { name } }, opts)).data);
  }

  list(params: { limit?: number } & RequestOptions = {}, opts?: RequestOptions): Pager<Tenant> {
    const [query, options] = splitOptions(params, opts);
    return pager(this.#transport, 'listTenants', [], { ...query }, options, (t: Tenant) => t);
  }

  /** Another API key for the tenant (shown only in this answer). */
  async createKey(tenantId: string, opts?: RequestOptions): Promise<ApiKeyCreated> {
    return fromWire((await this.#transport.read('createTenantKey', { path: [tenantId] }, opts)).data);
  }

  /** Revokes one API key at once. */
  async revokeKey(tenantId: string, keyId: string, opts?: RequestOptions): Promise<void> {
    await this.#transport.read('deleteTenantKey', { path: [tenantId, keyId] }, opts);
  }
}
