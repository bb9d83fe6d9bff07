import { fromWire } from './convert.js';
import type { AttachedCredential, Credential, CredentialCreate, CredentialReplace } from './models.js';
import { RequestOptions, Transport, WaitOptions } from './transport.js';

/** What `credentials.replace(name, …)` (or `update`) changes: any of the replace shape's fields but the name. */
export type CredentialUpdate = Partial<Omit<CredentialReplace, 'name'>>;

/** `client.credentials`: the tenant's credentials. A value goes in and is never shown again. */
export class Credentials {
  readonly #transport: Transport;

  constructor(transport: Transport) {
    this.#transport = transport;
  }

  /**
   * A credential: `binding: { host, port?, methods?, pathPrefix? }`, `placement: { kind: 'header', name, format: 'Bearer {secret}' }`,
   * `{ kind: 'basic' }` or `{ kind: 'query', name }`; `require: true` refuses requests to the binding without the placeholder.
   */
  create(name: string, params: Omit<CredentialCreate, 'name'>, opts?: WaitOptions): Promise<Credential>;
  create(params: CredentialCreate, opts?: WaitOptions): Promise<Credential>;
  async create(nameOrParams: string | CredentialCreate, paramsOrOpts?: Omit<CredentialCreate, 'name'> | WaitOptions,
               opts?: WaitOptions): Promise<Credential> {
    // `create(name, params, opts?)` as profiles and templates take it, or `create({ name, … }, opts?)`.
    const [body, options] = typeof nameOrParams === 'string'
      ? [{ ...(paramsOrOpts as Omit<CredentialCreate, 'name'>), name: nameOrParams }, opts]
      : [nameOrParams, paramsOrOpts as WaitOptions | undefined];
    return fromWire((await this.#transport.read('createCredential', { body }, options)).data);
  }

  /** Every credential of the tenant, by name (never a value). */
  async list(opts?: RequestOptions): Promise<Credential[]> {
    const { data } = await this.#transport.read<{ items: unknown[] }>('listCredentials', {}, opts);
    return fromWire(data.items);
  }

  async get(name: string, opts?: RequestOptions): Promise<Credential> {
    return fromWire((await this.#transport.read('getCredential', { path: [name] }, opts)).data);
  }

  /**
   * Changes what is given: `value` rotates the secret (placeholders stay), `binding`, `placement`, `require`.
   * The API replaces the whole credential, so when `binding`, `placement` or `require` is left out the SDK
   * reads the credential first and sends its current ones (two calls, not one atomic change).
   */
  async replace(name: string, params: CredentialUpdate, opts?: WaitOptions): Promise<Credential> {
    let { binding, placement, require } = params;
    if (binding === undefined || placement === undefined || require === undefined) {
      const { wait: _wait, ...request } = opts ?? {}; // the read takes the call's signal and timeout, not its wait
      const current = await this.get(name, request);
      binding ??= current.binding;
      placement ??= current.placement;
      require ??= current.require;
    }
    const body: CredentialReplace = { name, binding, placement, require, value: params.value };
    return fromWire((await this.#transport.read('replaceCredential', { path: [name], body }, opts)).data);
  }

  /** The same as `replace` (its first name). */
  update(name: string, params: CredentialUpdate, opts?: WaitOptions): Promise<Credential> {
    return this.replace(name, params, opts);
  }

  /** Deletes the credential; it is detached from every sandbox and their placeholders revoked. */
  async delete(name: string, opts?: WaitOptions): Promise<void> {
    await this.#transport.read('deleteCredential', { path: [name] }, opts);
  }

  /**
   * Attaches credential `name` to sandbox `sandboxId` (the CLI's `credential attach SANDBOX NAME`);
   * the same as `client.sandboxes.network(sandboxId).credentials.attach(name)`.
   */
  attach(sandboxId: string, name: string, opts?: WaitOptions): Promise<AttachedCredential> {
    return new SandboxCredentials(this.#transport, sandboxId).attach(name, opts);
  }

  /** Detaches credential `name` from sandbox `sandboxId`; its placeholder is revoked at once. */
  detach(sandboxId: string, name: string, opts?: WaitOptions): Promise<void> {
    return new SandboxCredentials(this.#transport, sandboxId).detach(name, opts);
  }

  /** The credentials attached to sandbox `sandboxId`, with their placeholders. */
  listAttached(sandboxId: string, opts?: RequestOptions): Promise<AttachedCredential[]> {
    return new SandboxCredentials(this.#transport, sandboxId).list(opts);
  }
}

/** `sandbox.network.credentials`: the credentials attached to one sandbox, with its placeholders. */
export class SandboxCredentials {
  readonly #transport: Transport;
  readonly sandboxId: string;

  constructor(transport: Transport, sandboxId: string) {
    this.#transport = transport;
    this.sandboxId = sandboxId;
  }

  /** Attaches credential `name`; `placeholder` (`pcx_…`) is what the sandbox puts where the secret goes. */
  async attach(name: string, opts?: WaitOptions): Promise<AttachedCredential> {
    return fromWire((await this.#transport.read('attachCredential', { path: [this.sandboxId, name] }, opts)).data);
  }

  /** The attached credentials with their placeholders, in attachment order. */
  async list(opts?: RequestOptions): Promise<AttachedCredential[]> {
    const { data } = await this.#transport.read<{ items: unknown[] }>('listSandboxCredentials', { path: [this.sandboxId] }, opts);
    return fromWire(data.items);
  }

  /** Detaches credential `name`; its placeholder is revoked at once. */
  async detach(name: string, opts?: WaitOptions): Promise<void> {
    await this.#transport.read('detachCredential', { path: [this.sandboxId, name] }, opts);
  }
}
