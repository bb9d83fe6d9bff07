/**
 * The TypeScript SDK of the Portcullis egress gateway's control-plane API.
 *
 *     import { Portcullis } from '@portcullis/sdk';
 *     const client = new Portcullis(); // PORTCULLIS_URL, PORTCULLIS_TOKEN
 *     const sandbox = await client.sandboxes.create({ network: { allow: ['api.openai.com'] } });
 *     for await (const e of sandbox.network.log()) console.log(e.action, e.host);
 */
export { Portcullis } from './client.js';
export type { ClientOptions, Readiness } from './client.js';
export {
  APIConnectionError, APIStatusError, APITimeoutError, APIUserAbortError, AuthenticationError, BadRequestError,
  ConflictError, FleetLaggingError, NotFoundError, PermissionDeniedError, PortcullisError, RateLimitError,
} from './errors.js';
export { Pending, Sandbox, SandboxNetwork, Sandboxes } from './sandboxes.js';
export { TenantNetwork, NetworkPolicy, Tenants } from './tenant.js';
export { Profiles, Templates } from './catalog.js';
export { Audit } from './audit.js';
export { Nodes } from './nodes.js';
export { Credentials, SandboxCredentials } from './credentials.js';
export type { CredentialUpdate } from './credentials.js';
export type { Fleet } from './nodes.js';
export type { AuditQuery } from './audit.js';
export { Pager } from './paging.js';
export type { Page } from './paging.js';
export { EventStream, STREAM_IDLE_MS } from './stream.js';
export type { AllowOptions, DenyOptions } from './rules.js';
export type { RequestOptions, WaitOptions } from './transport.js';
export { VERSION } from './transport.js';
export { operations } from './operations.js';
export type { Operation, OperationId } from './operations.js';
export { operationMethods } from './coverage.js';
export * from './models.js';
