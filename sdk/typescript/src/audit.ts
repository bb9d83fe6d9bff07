import type { AuditAction, AuditEntry } from './models.js';
import { Pager, pager } from './paging.js';
import { EventStream } from './stream.js';
import { RequestOptions, splitOptions, Transport } from './transport.js';

/** Filters of the audit log; `since` is a window (`'24h'`, `'7d'`) or an RFC 3339 time, `until` a time (exclusive). */
export interface AuditQuery {
  sandbox?: string;
  action?: AuditAction;
  /** A host pattern: exact, `*.` wildcard, IP or CIDR. */
  host?: string;
  since?: string;
  until?: string;
}

/** `client.audit`: paged, live and exported. */
export class Audit {
  readonly #transport: Transport;

  constructor(transport: Transport) {
    this.#transport = transport;
  }

  /** Entries, newest first; pages are fetched as you iterate. */
  list(params: AuditQuery & { limit?: number } & RequestOptions = {}, opts?: RequestOptions): Pager<AuditEntry> {
    const [query, options] = splitOptions(params, opts);
    return pager(this.#transport, 'listAudit', [], { ...query }, options, (e: AuditEntry) => e);
  }

  /** The live log: entries written after the stream opens, as they are written. */
  stream(params: Pick<AuditQuery, 'sandbox' | 'action'> & RequestOptions = {}, opts?: RequestOptions): EventStream<AuditEntry> {
    const [query, options] = splitOptions(params, opts);
    return new EventStream(this.#transport, 'streamAudit', { query: { ...query } }, options);
  }

  /** Every matching entry, oldest first, read as the API sends them (JSON lines). */
  export(params: AuditQuery & RequestOptions = {}, opts?: RequestOptions): EventStream<AuditEntry> {
    const [query, options] = splitOptions(params, opts);
    return new EventStream(this.#transport, 'exportAudit', { query: { ...query } }, options);
  }
}
