/**
 * A small JSON Schema (draft 2020-12 subset) validator. The schemas in
 * `schemas.ts` are plain JSON Schema so the same objects can be published in
 * the OpenAPI/AsyncAPI documents; this validator covers the keywords they use:
 * type, enum, const, properties, required, additionalProperties, items,
 * minItems, maxItems, uniqueItems, minLength, maxLength, pattern, minimum,
 * maximum, maxBytes (ours: UTF-8 size of the JSON serialization), anyOf,
 * minProperties, format: date-time.
 */
export interface Schema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean' | 'null' | Array<'string' | 'null' | 'object' | 'integer'>;
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
  maxBytes?: number;
  /** ours: free-form JSON — nesting depth at most this, every number finite */
  maxDepth?: number;
  description?: string;
  default?: unknown;
}

const typeOf = (v: unknown): string => {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
};

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;
const patterns = new Map<string, RegExp>();
const regex = (p: string): RegExp => {
  let r = patterns.get(p);
  if (!r) {
    r = new RegExp(p, 'u');
    patterns.set(p, r);
  }
  return r;
};

/** Returns the first problem found as a message, or null when the value is valid. */
export function validate(schema: Schema, value: unknown, path = 'body'): string | null {
  if (schema.anyOf) {
    const errors = schema.anyOf.map((s) => validate(s, value, path));
    if (errors.every((e) => e !== null)) return errors[0] ?? `${path} is invalid`;
  }
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    const t = typeOf(value);
    const ok = types.some((want) => want === t || (want === 'number' && t === 'integer'));
    if (!ok) return `${path} must be ${types.join(' or ')}`;
  }
  if (schema.const !== undefined && value !== schema.const) return `${path} must be ${JSON.stringify(schema.const)}`;
  if (schema.enum && !schema.enum.includes(value)) return `${path} must be one of ${schema.enum.join(', ')}`;
  if (schema.maxDepth !== undefined && value !== undefined) {
    const problem = plainJson(value, schema.maxDepth);
    if (problem) return `${path} ${problem}`;
  }
  if (schema.maxBytes !== undefined && value !== undefined) {
    // the bytes it takes in JSON, as it is stored and pushed: escapes count ("\u0000" is 6 bytes), a string's quotes do not
    const size = Buffer.byteLength(JSON.stringify(value), 'utf8') - (typeof value === 'string' ? 2 : 0);
    if (size > schema.maxBytes) return `${path} must be at most ${schema.maxBytes} bytes`;
  }
  if (typeof value === 'string') {
    const len = [...value].length;
    if (schema.minLength !== undefined && len < schema.minLength) return `${path} must be at least ${schema.minLength} characters`;
    if (schema.maxLength !== undefined && len > schema.maxLength) return `${path} must be at most ${schema.maxLength} characters`;
    if (schema.pattern !== undefined && !regex(schema.pattern).test(value)) return `${path} has invalid characters or format`;
    if (schema.format === 'date-time' && (!ISO.test(value) || Number.isNaN(Date.parse(value)))) return `${path} must be an ISO-8601 UTC timestamp`;
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) return `${path} must be ≥ ${schema.minimum}`;
    if (schema.maximum !== undefined && value > schema.maximum) return `${path} must be ≤ ${schema.maximum}`;
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) return `${path} must have at least ${schema.minItems} items`;
    if (schema.maxItems !== undefined && value.length > schema.maxItems) return `${path} must have at most ${schema.maxItems} items`;
    if (schema.uniqueItems && new Set(value).size !== value.length) return `${path} must not repeat items`;
    if (schema.items) {
      for (let i = 0; i < value.length; i++) {
        const err = validate(schema.items, value[i], `${path}[${i}]`);
        if (err) return err;
      }
    }
  }
  if (typeOf(value) === 'object' && (schema.properties || schema.required || schema.additionalProperties === false)) {
    const obj = value as Record<string, unknown>;
    if (schema.minProperties !== undefined && Object.keys(obj).length < schema.minProperties)
      return `${path} must have at least ${schema.minProperties} field(s)`;
    for (const key of schema.required ?? []) if (obj[key] === undefined) return `${path}.${key} is required`;
    for (const [key, v] of Object.entries(obj)) {
      const sub = schema.properties && Object.hasOwn(schema.properties, key) ? schema.properties[key] : undefined;
      if (!sub) {
        if (schema.additionalProperties === false) return `${path}.${key} is not allowed`;
        continue;
      }
      const err = validate(sub, v, `${path}.${key}`);
      if (err) return err;
    }
  }
  return null;
}

/** Free-form JSON that round-trips: bounded nesting (checked before anything recurses deeply) and finite numbers. */
function plainJson(value: unknown, maxDepth: number): string | null {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (typeof v === 'number' && !Number.isFinite(v)) return 'must contain only finite numbers';
    if (v !== null && typeof v === 'object') {
      if (depth >= maxDepth) return `must be nested at most ${maxDepth} levels deep`;
      for (const x of Object.values(v)) stack.push([x, depth + 1]);
    }
  }
  return null;
}
