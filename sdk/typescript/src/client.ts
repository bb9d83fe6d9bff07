import { Audit } from './audit.js';
import { Profiles, Templates } from './catalog.js';
import { Credentials } from './credentials.js';
import { Nodes } from './nodes.js';
import { PortcullisError } from './errors.js';
import { Sandboxes } from './sandboxes.js';
import { NetworkPolicy, TenantNetwork, Tenants } from './tenant.js';
import { DEFAULT_URL, RequestOptions, Transport } from './transport.js';

/** How to reach the API. Unset fields come from `PORTCULLIS_URL` / `PORTCULLIS_TOKEN`. */
export interface ClientOptions {
  /** Default `$PORTCULLIS_URL`, else http://127.0.0.1:8080. */
  baseURL?: string;
  /** Default `$PORTCULLIS_TOKEN`. */
  apiKey?: string;
  /** Milliseconds per call (default 30 000); a live log waits at least 45 s between bytes. */
  timeout?: number;
  /** Your own `fetch` (e.g. one that records or routes requests); default the global one. */
  fetch?: typeof fetch;
}

/** `/readyz`: whether the gateway is ready, and its one-line answer (what is missing, if not). */
export interface Readiness {
  ready: boolean;
  message: string;
}

function environment(name: string): string | undefined {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  return env?.[name] || undefined;
}

/** A Portcullis API client. */
export class Portcullis {
  readonly baseURL: string;
  readonly timeout: number;
  /** Sandboxes: create, get, list, update, delete; each with `.network`. */
  readonly sandboxes: Sandboxes;
  /** Tenant-wide rules and the tenant's default mode. */
  readonly network: TenantNetwork;
  /** The MIOSA computers network-policy API (a computer id is a sandbox id). */
  readonly networkPolicy: NetworkPolicy;
  readonly profiles: Profiles;
  readonly templates: Templates;
  /** Tenants and their API keys (admin key only). */
  readonly tenants: Tenants;
  /** The audit log: paged, live, exported. */
  readonly audit: Audit;
  /** Secrets sandboxes use through placeholders (values are never read back). */
  readonly credentials: Credentials;
  /** The gateway nodes sharing this database, with the policy version each applied (admin key only). */
  readonly nodes: Nodes;
  readonly #transport: Transport;

  constructor(options: ClientOptions = {}) {
    const baseURL = (options.baseURL ?? environment('PORTCULLIS_URL') ?? DEFAULT_URL).replace(/\/+$/, '');
    if (!/^https?:\/\//.test(baseURL)) {
      throw new PortcullisError(`baseURL (or PORTCULLIS_URL) must be an http(s) URL such as ${DEFAULT_URL}, not ${baseURL}`);
    }
    const apiKey = options.apiKey ?? environment('PORTCULLIS_TOKEN');
    if (!apiKey) throw new PortcullisError('no API key: pass { apiKey } or set PORTCULLIS_TOKEN');
    const timeout = options.timeout ?? 30_000;
    if (!(timeout > 0)) throw new PortcullisError(`timeout must be a positive number of milliseconds, not ${timeout}`);
    const fetchImpl = options.fetch ?? globalThis.fetch;
    if (typeof fetchImpl !== 'function') throw new PortcullisError('no fetch: Node 18 or later, or pass { fetch }');
    this.baseURL = baseURL;
    this.timeout = timeout;
    this.#transport = new Transport(baseURL, apiKey, timeout, fetchImpl);
    this.sandboxes = new Sandboxes(this.#transport);
    this.network = new TenantNetwork(this.#transport);
    this.networkPolicy = new NetworkPolicy(this.#transport);
    this.profiles = new Profiles(this.#transport);
    this.templates = new Templates(this.#transport);
    this.tenants = new Tenants(this.#transport);
    this.audit = new Audit(this.#transport);
    this.credentials = new Credentials(this.#transport);
    this.nodes = new Nodes(this.#transport);
  }

  /** `/healthz`: `ok` while the gateway process runs. */
  async health(opts?: RequestOptions): Promise<string> {
    return (await this.#transport.read<string>('getHealth', {}, opts)).data.trim();
  }

  /** `/readyz`: ready once the store and every listener are up (503 is an answer here, not an error). */
  async readiness(opts?: RequestOptions): Promise<Readiness> {
    const { status, data } = await this.#transport.read<string>('getReadiness', { accept: [503] }, opts);
    return { ready: status === 200, message: data.trim() };
  }

  /** `/metrics`: Prometheus text. */
  async metrics(opts?: RequestOptions): Promise<string> {
    return (await this.#transport.read<string>('getMetrics', {}, opts)).data;
  }
}
