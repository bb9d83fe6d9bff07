import { fromWire } from './convert.js';
import type { Node, NodeList } from './models.js';
import { RequestOptions, Transport } from './transport.js';

/**
 * Every gateway node sharing the database (an array of `Node`: `id`, `state`,
 * `appliedPolicyVersion`, `lag`, …), plus `policyVersion`, the newest policy version in the database.
 */
export type Fleet = Node[] & { readonly policyVersion: number };

/** `client.nodes` (admin key only): the `serve` nodes sharing this database (FLEET.md). */
export class Nodes {
  readonly #transport: Transport;

  constructor(transport: Transport) {
    this.#transport = transport;
  }

  /** Every node with its state (`up`, `syncing`, `down`), applied policy version and lag; one node on SQLite lists itself. */
  async list(opts?: RequestOptions): Promise<Fleet> {
    const list: NodeList = fromWire((await this.#transport.read('listNodes', {}, opts)).data);
    return Object.assign([...list.items], { policyVersion: list.policyVersion });
  }
}
