import { fromWire } from './convert.js';
import type { OperationId } from './operations.js';
import type { RequestOptions, Transport } from './transport.js';

/** One page of a list: its items and the cursor of the next page (absent on the last). */
export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

/**
 * Every item of a paged list, fetching the next page when one runs out:
 * `for await (const e of client.audit.list({ action: 'reject' })) { … }`.
 * Nothing is fetched until you use it; each `for await` loop starts from the first page.
 *
 * Awaited, it is the whole list: `const pending = await sandbox.network.pending()` fetches
 * every page (once: awaiting the same pager again gives the same array) and holds all of
 * it in memory, so iterate a long list (the audit log) instead. `toArray()` fetches afresh.
 */
export class Pager<T> implements AsyncIterable<T>, PromiseLike<T[]> {
  readonly #fetchPage: (cursor: string | undefined) => Promise<Page<T>>;
  #all: Promise<T[]> | undefined;

  constructor(fetchPage: (cursor: string | undefined) => Promise<Page<T>>) {
    this.#fetchPage = fetchPage;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for await (const page of this.pages()) yield* page.items;
  }

  /** Every page, from the first; the last one has no `nextCursor`. */
  async *pages(): AsyncGenerator<Page<T>, void, undefined> {
    let cursor: string | undefined;
    for (;;) {
      const page = await this.#fetchPage(cursor);
      yield page;
      if (!page.nextCursor) return;
      cursor = page.nextCursor;
    }
  }

  /** Every item of every page, as an array. */
  async toArray(): Promise<T[]> {
    const items: T[] = [];
    for await (const page of this.pages()) items.push(...page.items);
    return items;
  }

  /** `await pager`: every item as an array (fetched on the first `await`, then kept). */
  then<R1 = T[], R2 = never>(onfulfilled?: ((value: T[]) => R1 | PromiseLike<R1>) | null,
                             onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null): Promise<R1 | R2> {
    this.#all ??= this.toArray();
    return this.#all.then(onfulfilled, onrejected);
  }
}

/** A Pager over a paged operation; `bind` turns each item's JSON (camelCase) into what the SDK returns. */
export function pager<W, T>(transport: Transport, id: OperationId, path: string[], params: Record<string, string | number | undefined>,
                            opts: RequestOptions | undefined, bind: (item: W) => T): Pager<T> {
  return new Pager(async (cursor) => {
    const { data } = await transport.read<{ items: unknown[]; next_cursor?: string }>(id, { path, query: { ...params, cursor } }, opts);
    return { items: data.items.map((x) => bind(fromWire<W>(x))), nextCursor: data.next_cursor };
  });
}
