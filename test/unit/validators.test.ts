/**
 * The validators compiled ahead of time (lib/validators.ts): the committed
 * functions/core/validators.generated.js is what the schemas generate now,
 * it loads nothing but Ajv's runtime helpers, and the API documents' schemas
 * (the same objects) are valid for Ajv in strict mode with our keywords.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as genericSchemas from '../../functions/compat/generic-schemas.ts';
import * as rcSchemas from '../../functions/compat/ringcentral-schemas.ts';
import * as schemas from '../../functions/core/schemas.ts';
import * as generated from '../../functions/core/validators.generated.js';
import { asyncApiDocument, openApiDocument } from '../../lib/api-docs.ts';
import { COMPILED_SCHEMAS, GENERATED_DTS, GENERATED_JS, generateValidators, newAjv } from '../../lib/validators.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const committed = (file: string) => readFileSync(resolve(ROOT, file), 'utf8');

describe('generated validators', () => {
  it('are up to date with the schemas (else: npm run build:validators, and commit the result)', () => {
    const { js, dts } = generateValidators();
    expect(committed(GENERATED_JS) === js, `${GENERATED_JS} is stale: run npm run build:validators`).toBe(true);
    expect(committed(GENERATED_DTS) === dts, `${GENERATED_DTS} is stale: run npm run build:validators`).toBe(true);
  });

  it("export one validator per compiled schema, named as the schema is in schemas.ts (a compatibility facade's: in its own schema file)", () => {
    expect(Object.keys(generated).sort()).toEqual(Object.keys(COMPILED_SCHEMAS).sort());
    const exported = { ...genericSchemas, ...rcSchemas, ...schemas } as unknown as Record<string, unknown>;
    for (const [name, schema] of Object.entries(COMPILED_SCHEMAS)) {
      if (name.startsWith('ws') && !(name in exported)) expect(Object.values(schemas.wsSchemas)).toContain(schema);
      else if (name.startsWith('sysInvoke')) expect(Object.values(schemas.sysInvokePayloads)).toContain(schema);
      else expect(exported[name], name).toBe(schema);
    }
    // every WebSocket action and sys operation has its validator
    expect(Object.values(schemas.wsSchemas).every((s) => Object.values(COMPILED_SCHEMAS).includes(s))).toBe(true);
    expect(Object.values(schemas.sysInvokePayloads).every((s) => Object.values(COMPILED_SCHEMAS).includes(s))).toBe(true);
  });

  it('import only Ajv runtime helpers: no require(), no compiler, no code built at load', () => {
    const js = committed(GENERATED_JS);
    expect(js).not.toMatch(/\brequire\(/);
    expect(js).not.toMatch(/new Function|\beval\(/);
    const imports = [...js.matchAll(/^import .* from "([^"]+)";$/gm)].map((m) => m[1]);
    expect(imports.length).toBeGreaterThan(0);
    for (const i of imports) expect(i).toMatch(/^ajv\/dist\/runtime\/\w+\.js$/);
  });
});

describe('API documents', () => {
  /** Every schema in the documents: request bodies, parameters, responses, messages, bindings. */
  function schemasIn(doc: unknown, out: object[] = []): object[] {
    if (Array.isArray(doc)) for (const x of doc) schemasIn(x, out);
    else if (doc && typeof doc === 'object')
      for (const [k, v] of Object.entries(doc)) {
        if ((k === 'schema' || k === 'payload' || k === 'query') && v && typeof v === 'object' && !Array.isArray(v) && !('$ref' in v)) out.push(v);
        else schemasIn(v, out);
      }
    return out;
  }

  it('hold valid JSON Schema: Ajv in strict mode compiles every schema (maxBytes and maxDepth are ours, known to it)', () => {
    const all = [...schemasIn(openApiDocument()), ...schemasIn(asyncApiDocument())];
    expect(all.length).toBeGreaterThan(50);
    const text = JSON.stringify(all);
    expect(text).toContain('"maxBytes"');
    expect(text).toContain('"maxDepth"');
    const ajv = newAjv();
    for (const schema of new Set(all.map((s) => JSON.stringify(s)))) expect(() => ajv.compile(JSON.parse(schema)), schema).not.toThrow();
  });
});
