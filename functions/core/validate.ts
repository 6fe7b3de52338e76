/**
 * Request validation with validators compiled ahead of time: the schemas in
 * `schemas.ts` are plain JSON Schema (published as they are in the
 * OpenAPI/AsyncAPI documents); `npm run build:validators` has Ajv compile
 * them into `validators.generated.js` (lib/validators.ts), and a handler
 * imports the validators it needs from there and runs them with `validate`.
 * Nothing is compiled when a Lambda starts. The first problem found becomes a
 * message naming the field ("body.customStatus must be at most 64 characters").
 */
import type { ErrorObject } from 'ajv';

/** A compiled schema (validators.generated.js): true when valid; otherwise false, with the problem in `errors`. */
export interface Validator {
  (data: unknown): boolean;
  errors?: ErrorObject[] | null;
}

/** The JSON Schema keywords the schemas use (alike in draft-07 and 2020-12, the documents' dialect), and ours (lib/validators.ts). */
export interface Schema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean' | 'null' | Array<'string' | 'null' | 'object' | 'integer' | 'boolean'>;
  enum?: readonly unknown[];
  const?: unknown;
  properties?: Record<string, Schema>;
  required?: readonly string[];
  additionalProperties?: boolean;
  minProperties?: number;
  items?: Schema;
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  format?: 'date-time';
  anyOf?: readonly Schema[];
  /** ours: UTF-8 size of the JSON serialization */
  maxBytes?: number;
  /** ours: free-form JSON — nesting depth at most this, every number finite */
  maxDepth?: number;
  description?: string;
  default?: unknown;
}

/** Returns the first problem found as a message, or null when the value is valid. */
export function validate(check: Validator, value: unknown, path = 'body'): string | null {
  return check(value) ? null : describe(check.errors ?? [], value, path);
}

/**
 * The message for a failed validation. Without anyOf there is one error; with
 * it, one per branch and then anyOf's own: the branch that got furthest
 * tells what is wrong (the deepest field; a missing field is the least specific).
 */
export function describe(errors: readonly ErrorObject[], value: unknown, path: string): string {
  const specific = (e: ErrorObject) => 2 * depthOf(e.instancePath) + (e.keyword === 'required' ? 0 : 1);
  let best: ErrorObject | undefined;
  for (const e of errors) if (e.keyword !== 'anyOf' && (!best || specific(e) > specific(best))) best = e;
  return best ? message(best, value, path) : `${path} is invalid`;
}

const depthOf = (pointer: string) => (pointer === '' ? 0 : pointer.split('/').length - 1);

/** `body.userIds[2]` from the JSON pointer `/userIds/2` (an index of an array in brackets). */
function fieldAt(pointer: string, value: unknown, path: string): string {
  let at = path;
  let v: unknown = value;
  if (pointer === '') return at;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    at += Array.isArray(v) ? `[${key}]` : `.${key}`;
    v = v !== null && typeof v === 'object' && Object.hasOwn(v, key) ? (v as Record<string, unknown>)[key] : undefined;
  }
  return at;
}

const count = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;
const COMPARISON: Record<string, string> = { '>=': '≥', '<=': '≤', '>': '>', '<': '<' };

function message(error: ErrorObject, value: unknown, path: string): string {
  const at = fieldAt(error.instancePath, value, path);
  const p = error.params as Record<string, any>;
  switch (error.keyword) {
    case 'type':
      return `${at} must be ${[p.type].flat().join(' or ')}`;
    case 'required':
      return `${at}.${p.missingProperty} is required`;
    case 'additionalProperties':
      return `${at}.${p.additionalProperty} is not allowed`;
    case 'minProperties':
      return `${at} must have at least ${count(p.limit, 'field')}`;
    case 'const':
      return `${at} must be ${JSON.stringify(p.allowedValue)}`;
    case 'enum':
      return `${at} must be one of ${(p.allowedValues as unknown[]).join(', ')}`;
    case 'minLength':
      return `${at} must be at least ${count(p.limit, 'character')}`;
    case 'maxLength':
      return `${at} must be at most ${count(p.limit, 'character')}`;
    case 'pattern':
      return `${at} has invalid characters or format`;
    case 'format':
      return p.format === 'date-time' ? `${at} must be an ISO-8601 UTC timestamp` : `${at} must be a valid ${p.format}`;
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return `${at} must be ${COMPARISON[p.comparison] ?? p.comparison} ${p.limit}`;
    case 'minItems':
      return `${at} must have at least ${count(p.limit, 'item')}`;
    case 'maxItems':
      return `${at} must have at most ${count(p.limit, 'item')}`;
    case 'uniqueItems':
      return `${at} must not repeat items: ${at}[${p.i}] and ${at}[${p.j}] are the same`;
    case 'maxBytes':
      return `${at} must be at most ${count(p.limit, 'byte')}`;
    case 'maxDepth':
      return p.reason === 'finite' ? `${at} must contain only finite numbers` : `${at} must be nested at most ${p.limit} levels deep`;
    default:
      return `${at} is invalid`;
  }
}
