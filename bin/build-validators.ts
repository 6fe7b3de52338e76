/**
 * `npm run build:validators`: compiles the request schemas into standalone
 * validators (lib/validators.ts) and writes functions/core/validators.generated.js
 * and .d.ts. Commit them; test/unit/validators.test.ts fails while they are stale.
 */
import { GENERATED_DTS, GENERATED_JS, writeValidators } from '../lib/validators.ts';

const changed = writeValidators();
console.log(changed.length ? `wrote ${changed.join(', ')}` : `${GENERATED_JS} and ${GENERATED_DTS} are up to date`);
