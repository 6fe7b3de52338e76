/**
 * `npm run iam:report`: after a run of the whole suite, says which of the
 * template's grants no call used and why each stays (local/iam-unused.ts);
 * exits 1 when one is unexplained or when there is no report.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const file = resolve(import.meta.dirname, '../test-output/iam-grant-usage.json');
let report: { calls: number; grants: number; used: number; unused: { fn: string; action: string; resource: string; why?: string }[] };
try {
  report = JSON.parse(readFileSync(file, 'utf8'));
} catch {
  console.error(`no grant-usage report at ${file}: run the whole suite first (npm test)`);
  process.exit(1);
}
const unexplained = report.unused.filter((g) => !g.why);
console.log(
  `${report.calls} distinct SDK calls checked; ${report.used} of ${report.grants} grants used; ${report.unused.length - unexplained.length} unused, each with its reason:`,
);
const reasons = new Map<string, string[]>();
for (const g of report.unused) if (g.why) reasons.set(g.why, [...(reasons.get(g.why) ?? []), `${g.fn} ${g.action}`]);
for (const [why, grants] of reasons) console.log(`  ${grants.length} × ${why}`);
if (unexplained.length > 0) {
  console.error(
    `${unexplained.length} grants no call used, and nothing explains:\n${unexplained.map((g) => `  ${g.fn} ${g.action} ${g.resource}`).join('\n')}`,
  );
  process.exit(1);
}
