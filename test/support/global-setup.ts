/** Starts one in-memory DynamoDB Local for the test run (never a mock of DynamoDB). */
import type { TestProject } from 'vitest/node';
import { DynamoDbLocal } from '../../local/dynamodb.ts';
import { freePort } from './ports.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

let db: DynamoDbLocal | undefined;

export async function setup(project: TestProject) {
  db = new DynamoDbLocal({ port: await freePort(), heapMb: 512 });
  await db.start();
  project.provide('dynamodbEndpoint', db.endpoint);
}

export async function teardown() {
  await db?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    dynamodbEndpoint: string;
  }
}
