/**
 * Request validation compiled ahead of time. Ajv compiles the schemas
 * COMPILED_SCHEMAS names (functions/core/schemas.ts) into standalone code,
 * which `npm run build:validators` writes to
 * functions/core/validators.generated.js (+ .d.ts), committed. A handler
 * imports the validators it needs from there (one export per schema, so a
 * bundle carries only its own) and runs them with `validate`
 * (functions/core/validate.ts): a Lambda compiles nothing, and its bundle
 * holds no Ajv compiler, only the runtime helper the code uses
 * (ajv/dist/runtime/ucs2length).
 *
 * Kept in sync: test/unit/validators.test.ts regenerates the files in memory
 * and fails when the committed ones differ; `npm start` and `cdk synth`
 * refuse to run with stale ones (assertValidatorsFresh).
 *
 * Besides the standard keywords, the schemas use two of ours, generated as
 * code like Ajv's own (standalone code cannot call back into this file):
 *   maxBytes  the UTF-8 size of the value's JSON serialization, as it is stored
 *             and pushed (escapes count: "\u0000" is 6 bytes; a string's quotes do not)
 *   maxDepth  free-form JSON that round-trips: nesting at most this deep
 *             (checked without recursion, before anything serializes it) and
 *             every number finite
 * and `format: "date-time"` is an ISO-8601 UTC timestamp (…T…Z, at most
 * milliseconds), a regular expression inlined into the code.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { _, Ajv, type CodeKeywordDefinition, type Options, str } from 'ajv';
import standaloneCode from 'ajv/dist/standalone/index.js';
import { genericStatusBody } from '../functions/compat/generic-schemas.ts';
import { rcAccountPresenceQuery, rcPresenceBody } from '../functions/compat/ringcentral-schemas.ts';
import * as s from '../functions/core/schemas.ts';
import type { Schema } from '../functions/core/validate.ts';

const ROOT = resolve(import.meta.dirname, '..');

/**
 * Every schema a handler validates with, by the name of its validator (an
 * HTTP body, query or path parameter's under its name in schemas.ts). A
 * handler can import only what is compiled here.
 */
export const COMPILED_SCHEMAS: Record<string, Schema> = {
  // path parameters and single values
  userId: s.userId,
  groupId: s.groupId,
  device: s.device,
  // HTTP bodies and query strings
  patchPresenceBody: s.patchPresenceBody,
  heartbeatBody: s.heartbeatBody,
  putDeviceBody: s.putDeviceBody,
  subscribeBody: s.subscribeBody,
  unsubscribeBody: s.unsubscribeBody,
  listSubscriptionsQuery: s.listSubscriptionsQuery,
  batchPresenceQuery: s.batchPresenceQuery,
  friendsPresenceQuery: s.friendsPresenceQuery,
  groupPresenceQuery: s.groupPresenceQuery,
  onlinePresenceQuery: s.onlinePresenceQuery,
  sysPresenceBody: s.sysPresenceBody,
  sysExtendBody: s.sysExtendBody,
  sysTerminateQuery: s.sysTerminateQuery,
  sysProfileBody: s.sysProfileBody,
  // WebSocket messages: wsGetPresence, …
  ...prefixed('ws', s.wsSchemas),
  // the sys Lambda's payloads: sysInvokeAddFriend, …
  ...prefixed('sysInvoke', s.sysInvokePayloads),
  // the compatibility facades' bodies (functions/compat/*-schemas.ts)
  genericStatusBody,
  rcPresenceBody,
  rcAccountPresenceQuery,
};

function prefixed(prefix: string, schemas: Record<string, Schema>): Record<string, Schema> {
  return Object.fromEntries(Object.entries(schemas).map(([name, schema]) => [`${prefix}${name[0]?.toUpperCase()}${name.slice(1)}`, schema]));
}

export const GENERATED_JS = 'functions/core/validators.generated.js';
export const GENERATED_DTS = 'functions/core/validators.generated.d.ts';

/**
 * ISO-8601 UTC, 2026-11-22T11:00:00Z or with .1 to .123, each field in range:
 * the strings of that shape that Date.parse reads (day 29–31 of any month,
 * as it does; 24:00:00 only as the end of a day).
 */
export const DATE_TIME = /^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,3})?|24:00:00(?:\.0{1,3})?)Z$/;

/** `maxDepth: n`: error params {limit: n, reason: "depth" | "finite"}. */
const maxDepth: CodeKeywordDefinition = {
  keyword: 'maxDepth',
  schemaType: 'number',
  error: {
    message: ({ schemaCode }) => str`must be nested at most ${schemaCode} levels deep, with finite numbers`,
    params: ({ schemaCode, params }) => _`{limit: ${schemaCode}, reason: ${params.reason}}`,
  },
  code(cxt) {
    const { gen, data, schema } = cxt;
    const reason = gen.let('reason', _`""`);
    const stack = gen.const('stack', _`[${data}]`);
    const depths = gen.const('depths', _`[0]`);
    gen.for(_`;${reason} === "" && ${stack}.length > 0;`, () => {
      const value = gen.const('value', _`${stack}.pop()`);
      const depth = gen.const('depth', _`${depths}.pop()`);
      gen.if(_`typeof ${value} == "number" && !isFinite(${value})`);
      gen.assign(reason, _`"finite"`);
      gen.elseIf(_`${value} !== null && typeof ${value} == "object"`);
      gen.if(
        _`${depth} >= ${schema}`,
        () => gen.assign(reason, _`"depth"`),
        () =>
          gen.forOf('child', _`Object.values(${value})`, (child) => {
            gen.code(_`${stack}.push(${child})`);
            gen.code(_`${depths}.push(${depth} + 1)`);
          }),
      );
      gen.endIf();
    });
    cxt.setParams({ reason });
    cxt.fail(_`${reason} !== ""`);
  },
};

/** `maxBytes: n`: error params {limit: n}. */
const maxBytes: CodeKeywordDefinition = {
  keyword: 'maxBytes',
  schemaType: 'number',
  error: {
    message: ({ schemaCode }) => str`must be at most ${schemaCode} bytes`,
    params: ({ schemaCode }) => _`{limit: ${schemaCode}}`,
  },
  code(cxt) {
    const { data, schema } = cxt;
    cxt.fail(_`${data} !== undefined && Buffer.byteLength(JSON.stringify(${data}), "utf8") - (typeof ${data} == "string" ? 2 : 0) > ${schema}`);
  },
};

/**
 * Ajv's draft-07 class: the schemas use only keywords that mean the same in
 * 2020-12 (the API documents' dialect), and its code carries none of the
 * unevaluated/dynamic-reference bookkeeping of Ajv2020's (smaller, faster).
 */
const OPTIONS: Options = {
  strict: true,
  // `type: ["string", "null"]`: the schemas say "or null" this way
  allowUnionTypes: true,
  // messages are written from the error's keyword and params (functions/core/validate.ts)
  messages: false,
  code: { source: true, esm: true, lines: true },
};

/** An Ajv with our keywords and formats: for generating the code, and for tests validating against the API documents. */
export function newAjv(options: Options = {}): Ajv {
  const ajv = new Ajv({ ...OPTIONS, ...options });
  // maxDepth first: nothing may serialize (maxBytes) a value before its depth is known to be bounded
  ajv.addKeyword(maxDepth);
  ajv.addKeyword(maxBytes);
  ajv.addFormat('date-time', DATE_TIME);
  return ajv;
}

/** Ajv's standalone ESM still loads its runtime helpers with require() (ajv-validator/ajv#1976): import them instead. */
function importRuntimeHelpers(code: string): string {
  const imports = new Map<string, string>();
  const out = code.replace(/require\("([^"]+)"\)\.default/g, (_match, path: string) => {
    const helper = /^ajv\/dist\/runtime\/(\w+)$/.exec(path)?.[1];
    if (!helper) throw new Error(`generated validators require ${path}: only ajv/dist/runtime helpers are expected`);
    const name = `ajvRuntime_${helper}`;
    imports.set(name, `${path}.js`);
    return `ajvRuntimeHelper(${name})`;
  });
  if (/\brequire\(/.test(out)) throw new Error('generated validators still call require()');
  if (!out.startsWith('"use strict";')) throw new Error('standalone code changed: review importRuntimeHelpers');
  const lines = [...imports].map(([name, path]) => `import ${name} from ${JSON.stringify(path)};`);
  // a CommonJS module's default import: module.exports under Node ({default: helper}), the helper itself where __esModule is honoured (vitest)
  if (imports.size) lines.push('const ajvRuntimeHelper = (m) => (typeof m === "function" ? m : m.default);');
  return out.replace(/^"use strict";/, () => ['"use strict";', ...lines].join('\n'));
}

/**
 * uniqueItems on strings indexes the items in a plain object, where an item
 * "__proto__" is never recorded (it hits the prototype setter): two of them
 * passed as unique. An index without a prototype records it like any other.
 */
function indexWithoutPrototype(code: string): string {
  const declared = code.match(/const indices\d* = \{\};/g) ?? [];
  const out = code.replace(/(const indices\d* = )\{\};/g, '$1Object.create(null);');
  if ((code.match(/\bindices\d*\[/g) ?? []).length > 0 && declared.length === 0) throw new Error('uniqueItems code changed: review indexWithoutPrototype');
  return out;
}

/** The generated module (JavaScript) and its type declarations. */
export function generateValidators(): { js: string; dts: string } {
  const ajv = newAjv();
  const names = Object.keys(COMPILED_SCHEMAS);
  for (const [name, schema] of Object.entries(COMPILED_SCHEMAS)) ajv.addSchema(schema, name);
  const code = standaloneCode.default(ajv, Object.fromEntries(names.map((n) => [n, n])));
  const version = JSON.parse(readFileSync(resolve(ROOT, 'node_modules/ajv/package.json'), 'utf8')).version as string;
  const header = `// Generated by \`npm run build:validators\` (lib/validators.ts, Ajv ${version}) from functions/core/schemas.ts: do not edit.\n`;
  const js = `${header}${indexWithoutPrototype(importRuntimeHelpers(code))}\n`;
  const dts = [header.trimEnd(), "import type { Validator } from './validate.ts';", '', ...names.map((n) => `export declare const ${n}: Validator;`), ''].join(
    '\n',
  );
  return { js, dts };
}

const read = (file: string): string | undefined => {
  try {
    return readFileSync(resolve(ROOT, file), 'utf8');
  } catch {
    return undefined;
  }
};

/** The generated files that differ from what the schemas generate now, with their new text (none: in sync). */
export function staleValidators(): { file: string; text: string }[] {
  const { js, dts } = generateValidators();
  return [
    { file: GENERATED_JS, text: js },
    { file: GENERATED_DTS, text: dts },
  ].filter(({ file, text }) => read(file) !== text);
}

/** Writes the generated files that changed; returns their names. */
export function writeValidators(): string[] {
  const stale = staleValidators();
  for (const { file, text } of stale) writeFileSync(resolve(ROOT, file), text);
  return stale.map(({ file }) => file);
}

/** Throws when the committed validators do not match the schemas (run before bundling or serving the handlers). */
export function assertValidatorsFresh(): void {
  const stale = staleValidators().map(({ file }) => file);
  if (stale.length) throw new Error(`${stale.join(' and ')} ${stale.length > 1 ? 'are' : 'is'} out of date with the schemas: run \`npm run build:validators\``);
}
