/**
 * Starts one in-memory DynamoDB Local for the test run (never a mock of
 * DynamoDB), synthesizes the stack's template once (its IAM policies are
 * enforced on every local stack the tests start), and at the end reports
 * which of the template's grants the suite's calls used
 * (test-output/iam-grant-usage.json; `npm run iam:report` fails on an unused
 * grant that local/iam-unused.ts does not explain).
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { DynamoDbLocal } from '../../local/dynamodb.ts';
import { allGrants, type Checked, grantUsage, PLACEHOLDER_NAMES } from '../../local/iam.ts';
import { whyUnused } from '../../local/iam-unused.ts';
import { synthesizedTemplate } from '../../local/template.ts';
import { freePort } from './ports.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const OUT = resolve(import.meta.dirname, '../../test-output');
// one directory per run: runs of other terminals never mix their calls into this one
const USAGE_DIR = join(OUT, 'iam-calls', String(process.pid));
let db: DynamoDbLocal | undefined;

export async function setup(project: TestProject) {
  synthesizedTemplate();
  rmSync(USAGE_DIR, { recursive: true, force: true });
  mkdirSync(USAGE_DIR, { recursive: true });
  db = new DynamoDbLocal({ port: await freePort(), heapMb: 512 });
  await db.start();
  project.provide('dynamodbEndpoint', db.endpoint);
  project.provide('iamUsageDir', USAGE_DIR);
}

export async function teardown() {
  await db?.stop();
  try {
    reportGrantUsage();
  } finally {
    rmSync(USAGE_DIR, { recursive: true, force: true });
  }
}

/** What the suite's calls used of the template's grants (only after a run of the whole suite: a partial run uses less). */
function reportGrantUsage(): void {
  const calls = readdirSync(USAGE_DIR).flatMap((f) => JSON.parse(readFileSync(join(USAGE_DIR, f), 'utf8')) as Checked[]);
  if (calls.length === 0) return;
  const { used, unused } = grantUsage(allGrants(synthesizedTemplate(), PLACEHOLDER_NAMES), calls);
  const explained = unused.map((g) => ({ ...g, why: whyUnused(g) }));
  const report = { calls: calls.length, grants: used.length + unused.length, used: used.length, unused: explained };
  // the whole suite on the sources writes the report iam:report reads; a run from the assembly (a part of the suite) its own
  writeFileSync(join(OUT, process.env.PRESENCE_FROM_ASSEMBLY ? 'iam-grant-usage-assembly.json' : 'iam-grant-usage.json'), JSON.stringify(report, null, 2));
  const unexplained = explained.filter((g) => !g.why);
  console.log(
    `IAM: ${calls.length} distinct SDK calls checked against the template's policies; ${used.length} of ${report.grants} grants used, ${explained.length - unexplained.length} unused with a reason (test-output/iam-grant-usage.json)`,
  );
  if (unexplained.length > 0)
    console.log(
      `grants no call of the suite used, and nothing explains (npm run iam:report fails on them):\n${unexplained.map((g) => `  ${g.fn} ${g.action} ${g.resource}`).join('\n')}`,
    );
}

declare module 'vitest' {
  export interface ProvidedContext {
    dynamodbEndpoint: string;
    iamUsageDir: string;
  }
}
