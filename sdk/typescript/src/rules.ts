import type { NewRule } from './models.js';

/** Options of an allow rule (`allow(host, { warnOnly: true })`). */
export type AllowOptions = Pick<NewRule, 'port' | 'protocol' | 'methods' | 'paths' | 'warnOnly' | 'inspect' | 'note'>;
/** Options of a deny rule (`deny(host, { except: ['jira.corp.example'] })`). */
export type DenyOptions = Pick<NewRule, 'port' | 'protocol' | 'except' | 'note'>;

export function allowRule(host: string, options: AllowOptions = {}): NewRule {
  return { ...options, action: 'allow', host };
}

export function denyRule(host: string, options: DenyOptions = {}): NewRule {
  return { ...options, action: 'deny', host };
}
