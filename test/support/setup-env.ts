/**
 * Runs before each test file is imported: points the handlers' configuration
 * at the run's DynamoDB Local with table names unique to this file.
 */
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { captureEmf } from '../../local/metrics.ts';

const suffix = randomBytes(4).toString('hex');
process.env.DYNAMODB_ENDPOINT = inject('dynamodbEndpoint');
// what the handlers' SDK client reads (the SDK's per-service endpoint variable)
process.env.AWS_ENDPOINT_URL_DYNAMODB = process.env.DYNAMODB_ENDPOINT;
process.env.AWS_REGION = 'local';
process.env.AWS_ACCESS_KEY_ID = 'local';
process.env.AWS_SECRET_ACCESS_KEY = 'local';
process.env.PRESENCE_TABLE = `Presence_${suffix}`;
process.env.GRAPH_TABLE = `Graph_${suffix}`;
process.env.PRESENCE_JWT_SECRET = 'test-secret';
process.env.LOG_LEVEL = 'silent';
// the CloudWatch metrics (EMF lines on stdout) of handlers a test calls are counted, not printed, as the local stack does
captureEmf();
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
process.env.TABLE_SUFFIX = suffix;
// every local stack of the run records the SDK calls it checked against IAM here (the run's grant-usage report)
process.env.PRESENCE_IAM_USAGE_DIR = inject('iamUsageDir');
