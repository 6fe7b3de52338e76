/**
 * One Lambda with the house defaults (Node 24 on arm64, ESM bundle with
 * source maps, explicit log group with retention, its own role with no AWS
 * managed policy, Powertools configured: `service` = the stack name, the
 * metrics namespace, log level and debug sampling) and helpers that hand it
 * a table only at the access level its route asks for. X-Ray only where
 * `tracing` asks for it (functions/commons/tracing.ts says why).
 */
import path from 'node:path';
import { Duration, RemovalPolicy, Stack, Tags } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Grant, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { LogLevel, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE } from '../../functions/commons/metric-names.ts';
import { BUNDLE_BANNER, BUNDLE_EXTERNALS, BUNDLE_MAIN_FIELDS, BUNDLE_TARGET, tracingDefine } from '../bundling.ts';
import { type Access, FUNCTION_TAG, type TableAction } from '../routes.ts';
import type { TableDef } from '../tables.ts';

/** Repository root: lib/constructs/ is two levels below it. */
export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');

export { FUNCTION_TAG };

/** API Gateway gives up on an integration after ~29-30 s, so an API route never needs longer. */
export const API_TIMEOUT = Duration.seconds(29);

export interface PresenceFunctionProps {
  /** handler module, relative to the repository root; exports `handler` */
  entry: string;
  /** default: 29 s (API routes); workers set their own */
  timeout?: Duration;
  /** default: 256 MB */
  memorySize?: number;
  /** POWERTOOLS_LOG_LEVEL; default: 'INFO' (see functions/commons/logger.ts) */
  logLevel?: string;
  /**
   * X-Ray active tracing and Powertools Tracer (functions/commons/traced.ts), and the bundle built
   * with the Tracer in it (lib/bundling.ts); default: off. The stack sets it only with `-c tracing=on`,
   * and then only on the stream consumer, the chunk worker and the sweeper.
   */
  tracing?: boolean;
  logRetention?: RetentionDays;
  environment?: Record<string, string>;
  description?: string;
}

export class PresenceFunction extends Construct {
  readonly fn: NodejsFunction;
  readonly logGroup: LogGroup;
  /** execution role: logs to `logGroup` only, plus X-Ray (traced functions) and whatever the grants add */
  readonly role: Role;

  constructor(scope: Construct, id: string, props: PresenceFunctionProps) {
    super(scope, id);

    this.logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      // operational logs with a one-month retention: nothing worth keeping after the stack is gone
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // Instead of the default role with the AWS managed AWSLambdaBasicExecutionRole
    // (logs:CreateLogGroup/CreateLogStream/PutLogEvents on every log group, cdk-nag IAM4):
    // the function may only write to its own log group.
    this.role = new Role(this, 'ServiceRole', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `execution role of presence ${id}`,
    });
    this.logGroup.grantWrite(this.role);

    this.fn = new NodejsFunction(this, 'Function', {
      entry: path.resolve(REPO_ROOT, props.entry),
      handler: 'handler',
      projectRoot: REPO_ROOT,
      depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
      // the latest Node.js Lambda runtime (cdk-nag L1); handlers are async-only, as nodejs24.x requires
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      // ACTIVE adds xray:PutTraceSegments/PutTelemetryRecords to the role; DISABLED sets no tracing mode at all
      tracing: props.tracing ? Tracing.ACTIVE : Tracing.DISABLED,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? API_TIMEOUT,
      logGroup: this.logGroup,
      role: this.role,
      description: props.description,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        // Powertools for AWS Lambda (functions/commons/logger.ts, metrics.ts, tracing.ts)
        POWERTOOLS_SERVICE_NAME: Stack.of(this).stackName,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: props.logLevel ?? 'INFO',
        // one invocation in a hundred logs at DEBUG
        POWERTOOLS_LOGGER_SAMPLE_RATE: '0.01',
        POWERTOOLS_TRACE_ENABLED: String(props.tracing === true),
        ...props.environment,
      },
      // the settings live in lib/bundling.ts, shared with the benchmark's and the tests' esbuild runs
      bundling: {
        minify: true,
        sourceMap: true,
        format: OutputFormat.ESM,
        target: BUNDLE_TARGET,
        mainFields: BUNDLE_MAIN_FIELDS,
        logLevel: LogLevel.WARNING,
        externalModules: BUNDLE_EXTERNALS,
        banner: BUNDLE_BANNER,
        // without tracing the bundle carries no X-Ray SDK at all (functions/commons/traced.ts)
        define: tracingDefine(props.tracing === true),
      },
    });

    Tags.of(this).add(FUNCTION_TAG, id);
  }

  addEnvironment(name: string, value: string): this {
    this.fn.addEnvironment(name, value);
    return this;
  }

  /**
   * Sets the table's env var and grants exactly `actions` (lib/routes.ts):
   * item actions on the table, Query on its indexes only for `QueryIndex`.
   * (CDK's grantReadData/grantReadWriteData would add Scan, and every action on
   * every index.)
   */
  bindTable(table: ITableV2, def: TableDef, actions: readonly TableAction[]): this {
    this.fn.addEnvironment(def.envVar, table.tableName);
    const onTable = actions.filter((a) => a !== 'QueryIndex').map((a) => `dynamodb:${a}`);
    if (onTable.length) Grant.addToPrincipal({ grantee: this.fn, actions: onTable, resourceArns: [table.tableArn] });
    if (actions.includes('QueryIndex')) Grant.addToPrincipal({ grantee: this.fn, actions: ['dynamodb:Query'], resourceArns: [`${table.tableArn}/index/*`] });
    return this;
  }

  /**
   * Binds the tables a route's `access` names, and nothing else.
   * `connections` is handled by the stack (it needs the WebSocket stage).
   */
  bindAccess(access: Access, tables: Record<TableDef['id'], { table: ITableV2; def: TableDef }>): this {
    if (access.presence) this.bindTable(tables.Presence.table, tables.Presence.def, access.presence);
    if (access.graph) this.bindTable(tables.Graph.table, tables.Graph.def, access.graph);
    return this;
  }
}
