import { fromWire } from './convert.js';
import type { ExportedPolicy, Profile, ProfileInput, Template, TemplateCreate } from './models.js';
import { RequestOptions, splitOptions, Transport, WaitOptions } from './transport.js';

/** `client.profiles`: built-in profiles (read-only) and the tenant's own. */
export class Profiles {
  readonly #transport: Transport;

  constructor(transport: Transport) {
    this.#transport = transport;
  }

  /** Every profile the tenant can attach, built-ins first, then by name. */
  async list(opts?: RequestOptions): Promise<Profile[]> {
    const { data } = await this.#transport.read<{ items: unknown[] }>('listProfiles', {}, opts);
    return fromWire(data.items);
  }

  async get(name: string, opts?: RequestOptions): Promise<Profile> {
    return fromWire((await this.#transport.read('getProfile', { path: [name] }, opts)).data);
  }

  /** A tenant profile; each rule needs an `action`. */
  async create(name: string, params: ProfileInput, opts?: WaitOptions): Promise<Profile> {
    return fromWire((await this.#transport.read('createProfile', { path: [name], body: params }, opts)).data);
  }

  /** Replaces a tenant profile's rules and description; attached sandboxes follow at once. */
  async replace(name: string, params: ProfileInput, opts?: WaitOptions): Promise<Profile> {
    return fromWire((await this.#transport.read('replaceProfile', { path: [name], body: params }, opts)).data);
  }

  async delete(name: string, opts?: WaitOptions): Promise<void> {
    await this.#transport.read('deleteProfile', { path: [name] }, opts);
  }
}

/** `client.templates`: stored policies that new sandboxes copy (`sandboxes.create({ template })`). */
export class Templates {
  readonly #transport: Transport;

  constructor(transport: Transport) {
    this.#transport = transport;
  }

  async list(opts?: RequestOptions): Promise<Template[]> {
    const { data } = await this.#transport.read<{ items: unknown[] }>('listTemplates', {}, opts);
    return fromWire(data.items);
  }

  async get(name: string, opts?: RequestOptions): Promise<Template> {
    return fromWire((await this.#transport.read('getTemplate', { path: [name] }, opts)).data);
  }

  /** Stores a policy under `name` (an exported one, such as `sandbox.network.getPolicy()`). */
  async create(name: string, policy: (ExportedPolicy | Omit<TemplateCreate, 'name'>) & RequestOptions = {}, opts?: RequestOptions): Promise<Template> {
    const [fields, options] = splitOptions(policy, opts);
    return fromWire((await this.#transport.read('createTemplate', { body: { ...fields, name } }, options)).data);
  }

  /** Replaces a template's policy; sandboxes created from it keep their copy. */
  async replace(name: string, policy: ExportedPolicy, opts?: RequestOptions): Promise<Template> {
    return fromWire((await this.#transport.read('replaceTemplate', { path: [name], body: { ...policy, name } }, opts)).data);
  }

  async delete(name: string, opts?: RequestOptions): Promise<void> {
    await this.#transport.read('deleteTemplate', { path: [name] }, opts);
  }
}
