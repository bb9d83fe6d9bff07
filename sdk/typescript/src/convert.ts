import { nestedInputs, outputOnly } from './operations.js';

/** `warn_only` -> `warnOnly`: how the API's field names appear in this SDK. */
export function camel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** `warnOnly` -> `warn_only`: the inverse of `camel` for every name of the API. */
export function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An answer's JSON with every key in camelCase (the API defines no maps, so every key is a field name). */
export function fromWire<T>(value: unknown): T {
  if (Array.isArray(value)) return value.map((v) => fromWire(v)) as T;
  if (isRecord(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[camel(k)] = fromWire(v);
    return out as T;
  }
  return value as T;
}

/**
 * A request body (or part of one) in the API's snake_case. Fields that only answers have
 * (`id`, `source`, `createdAt`, `effective`, …) are dropped where `schema` is an input that
 * answers may be sent back as, so a policy read with `getPolicy()` can be sent back as it
 * is; every other field is sent, so the API refuses unknown ones with a 400 naming them.
 */
export function toWire(value: unknown, schema?: string | null): unknown {
  if (Array.isArray(value)) return value.map((v) => toWire(v, schema));
  if (isRecord(value)) {
    const strip = (schema && outputOnly[schema]) || [];
    const nested = (schema && nestedInputs[schema]) || {};
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined) continue;
      const key = snake(k);
      if (strip.includes(key)) continue;
      out[key] = toWire(v, nested[key]);
    }
    return out;
  }
  return value;
}
