/**
 * Validation against a schema known only at test time (the API documents'
 * schemas, as served): compiled by Ajv with the keywords and formats of the
 * generated validators (lib/validators.ts), the message worded as the
 * handlers word theirs. Handlers never compile: they use
 * functions/core/validators.generated.js.
 */
import { describe } from '../../functions/core/validate.ts';
import { newAjv } from '../../lib/validators.ts';

const ajv = newAjv();

/** The first problem of `value` against `schema` as a message, or null when it is valid. */
export function problemWith(schema: object, value: unknown, path = 'body'): string | null {
  const check = ajv.compile(schema);
  return check(value) ? null : describe(check.errors ?? [], value, path);
}
