/**
 * IAM enforced from the template, for the local stack: every AWS SDK call a
 * function makes (DynamoDB, DynamoDB Streams, the `@connections` API, SQS)
 * is checked, as it leaves the process, against that function's role
 * policies as synthesized by CDK (action and resource ARN, Allow/Deny); a call
 * the policies do not allow is answered the way the service answers it on
 * AWS (400 AccessDeniedException, or 403 ForbiddenException for
 * `@connections`), so the SDK raises its own error, exactly as in Lambda.
 *
 * The check sits in the SDK's HTTP handler (@smithy/node-http-handler, one
 * instance shared by every client in the thread, whether the handler code is
 * the TypeScript sources or a bundle from the CDK assembly), and knows which
 * function is calling from the invocation context the local stack runs every
 * handler in (local/metrics.ts). Calls made outside any invocation (the local
 * stack's own set-up, tests) are not checked: no Lambda makes them.
 */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { type Decision, evaluate, type Statement, wildcardMatch } from './iam-policy.ts';
import { type CfnTemplate, functionsById } from './template.ts';

export const LOCAL_REGION = 'local';
export const LOCAL_ACCOUNT = '000000000000';

/** What the local stack's resources are called, to resolve the template's references. */
export interface LocalNames {
  tables: Record<'Presence' | 'Graph', { name: string; streamArn?: string }>;
  /** the WebSocket API id the local gateway uses in ARNs */
  apiId: string;
  /** the chunk queue's local name (its URL ends with it) */
  chunkQueue?: string;
}

/** One grant: a function may perform `action` on resources matching `resource`. */
export interface Grant {
  fn: string;
  action: string;
  resource: string;
}

/** A call checked against a function's policies. */
export interface Checked extends Grant {
  decision: Decision['decision'];
}

interface FunctionPolicy {
  role: string;
  statements: Statement[];
}

type Json = any;

/** the SDK's own modules, resolved as the SDK resolves them (the instances its clients use) */
export const sdkRequire = createRequire(createRequire(import.meta.url).resolve('@aws-sdk/client-dynamodb'));

// ---------- the template, resolved to local names ----------

/**
 * An ARN as the local stack compares it: region and account are the
 * deployment's (a `cdk synth` may write its default region into the template;
 * DynamoDB Local names its streams' region "ddblocal"), so both sides of a
 * check carry the local ones.
 */
export function localArn(arn: string): string {
  return arn.replace(
    /^arn:([^:]+):([^:]+):([^:]*):([^:]*):/,
    (_, partition: string, service: string, region: string, account: string) =>
      `arn:${partition}:${service}:${region ? LOCAL_REGION : ''}:${account ? LOCAL_ACCOUNT : ''}:`,
  );
}
const localResources = (v: string | string[] | undefined) => (v === undefined ? undefined : Array.isArray(v) ? v.map(localArn) : localArn(v));

/** Resolves CloudFormation intrinsics to local values; what cannot be resolved stays a marker that matches nothing. */
function resolver(template: CfnTemplate, refs: Record<string, { ref: string; attrs: Record<string, string> }>) {
  const pseudo: Record<string, string> = {
    'AWS::Region': LOCAL_REGION,
    'AWS::AccountId': LOCAL_ACCOUNT,
    'AWS::Partition': 'aws',
    'AWS::URLSuffix': 'amazonaws.com',
  };
  const resolve = (v: Json): Json => {
    if (Array.isArray(v)) return v.map(resolve);
    if (v === null || typeof v !== 'object') return v;
    if ('Ref' in v) return pseudo[v.Ref] ?? refs[v.Ref]?.ref ?? `<unresolved Ref ${v.Ref}>`;
    if ('Fn::GetAtt' in v) {
      const [id, attr] = v['Fn::GetAtt'] as [string, string];
      return refs[id]?.attrs[attr] ?? `<unresolved ${id}.${attr} (${template.Resources[id]?.Type})>`;
    }
    if ('Fn::Join' in v) {
      const [sep, parts] = v['Fn::Join'] as [string, Json[]];
      return resolve(parts).join(sep);
    }
    if ('Fn::Sub' in v && typeof v['Fn::Sub'] === 'string')
      return (v['Fn::Sub'] as string).replace(/\$\{([^}]+)\}/g, (_, name: string) => resolve({ Ref: name }));
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolve(x)]));
  };
  return resolve;
}

/** Which template resources are which local ones, read from what the functions' environments point at. */
function localRefs(template: CfnTemplate, names: LocalNames) {
  const refs: Record<string, { ref: string; attrs: Record<string, string> }> = {};
  const tableArn = (name: string) => `arn:aws:dynamodb:${LOCAL_REGION}:${LOCAL_ACCOUNT}:table/${name}`;
  const queue = (name: string) => ({
    ref: `http://sqs.local/${LOCAL_ACCOUNT}/${name}`,
    attrs: { Arn: `arn:aws:sqs:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${name}`, QueueName: name },
  });
  for (const [id, r] of Object.entries(template.Resources)) {
    if (r.Type === 'AWS::SQS::Queue') refs[id] = queue(id);
    if (r.Type === 'AWS::ApiGatewayV2::Api') refs[id] = { ref: id, attrs: {} };
  }
  for (const r of Object.values(template.Resources)) {
    const env: Record<string, Json> = r.Type === 'AWS::Lambda::Function' ? (r.Properties?.Environment?.Variables ?? {}) : {};
    for (const [envVar, table] of [
      ['PRESENCE_TABLE', 'Presence'],
      ['GRAPH_TABLE', 'Graph'],
    ] as const) {
      const id = env[envVar]?.Ref;
      const local = names.tables[table];
      if (id) refs[id] = { ref: local.name, attrs: { Arn: tableArn(local.name), ...(local.streamArn ? { StreamArn: local.streamArn } : {}) } };
    }
    const queueId = env.FANOUT_QUEUE_URL?.Ref;
    if (queueId && names.chunkQueue) refs[queueId] = queue(names.chunkQueue);
    // the WebSocket API the callback URL points at is the one the local gateway serves
    const apiId = (env.WS_CALLBACK_URL?.['Fn::Join']?.[1] as Json[] | undefined)?.find(
      (p) => p?.Ref && template.Resources[p.Ref]?.Type === 'AWS::ApiGatewayV2::Api',
    )?.Ref;
    if (apiId) refs[apiId] = { ref: names.apiId, attrs: {} };
  }
  return refs;
}

/** Each function's role and identity-policy statements, resolved to local names, by route/worker id. */
export function functionPolicies(template: CfnTemplate, names: LocalNames): Map<string, FunctionPolicy> {
  const resolve = resolver(template, localRefs(template, names));
  const out = new Map<string, FunctionPolicy>();
  const policiesOf = (roleId: string): Statement[] => {
    const statements: Statement[] = [];
    for (const r of Object.values(template.Resources)) {
      if (r.Type !== 'AWS::IAM::Policy') continue;
      if (!((r.Properties?.Roles as Json[] | undefined) ?? []).some((x) => x?.Ref === roleId)) continue;
      statements.push(...(resolve(r.Properties?.PolicyDocument?.Statement) as Statement[]));
    }
    const role = template.Resources[roleId]?.Properties ?? {};
    for (const p of (role.Policies as Json[]) ?? []) statements.push(...(resolve(p.PolicyDocument?.Statement) as Statement[]));
    if (role.ManagedPolicyArns?.length) throw new Error(`role ${roleId} has managed policies: the local IAM check does not know them`);
    return statements;
  };
  const localized = (statements: Statement[]) =>
    statements.map((st) => ({
      ...st,
      ...(st.Resource !== undefined ? { Resource: localResources(st.Resource) } : {}),
      ...(st.NotResource !== undefined ? { NotResource: localResources(st.NotResource) } : {}),
    }));
  for (const [fn, r] of functionsById(template)) {
    const roleId = r.Properties?.Role?.['Fn::GetAtt']?.[0];
    if (roleId) out.set(fn, { role: roleId, statements: localized(policiesOf(roleId)) });
  }
  return out;
}

/** The stage of the WebSocket API the callback URL names (the `@connections` ARNs carry it). */
function webSocketStage(template: CfnTemplate): string {
  for (const r of Object.values(template.Resources)) {
    const parts = r.Properties?.Environment?.Variables?.WS_CALLBACK_URL?.['Fn::Join']?.[1] as Json[] | undefined;
    const last = parts?.[parts.length - 1];
    if (typeof last === 'string') return last.replace(/^\//, '');
  }
  return 'live';
}

// ---------- SDK requests as IAM sees them ----------

const utf8 = new TextDecoder();

interface Request {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: unknown;
}

/** The actions and resource ARNs a request needs, as AWS authorizes it (undefined: not a call we check). */
export function permissionsFor(req: Request, stage: string, apiId: string): { action: string; resource: string }[] | undefined {
  const target = Object.entries(req.headers).find(([k]) => k.toLowerCase() === 'x-amz-target')?.[1];
  // JSON protocols serialize the input into the body (a string, or bytes in newer SDKs)
  const raw = target && (typeof req.body === 'string' ? req.body : req.body instanceof Uint8Array ? utf8.decode(req.body) : '');
  const body = raw ? (JSON.parse(raw) as Json) : {};
  const tableArn = (name: string, index?: string) => `arn:aws:dynamodb:${LOCAL_REGION}:${LOCAL_ACCOUNT}:table/${name}${index ? `/index/${index}` : ''}`;
  if (target?.startsWith('DynamoDB_20120810.')) {
    const op = target.slice('DynamoDB_20120810.'.length);
    const action = (name: string) => `dynamodb:${name}`;
    if (op === 'BatchGetItem' || op === 'BatchWriteItem')
      return Object.keys(body.RequestItems ?? {}).map((t) => ({ action: action(op), resource: tableArn(t) }));
    if (op === 'TransactWriteItems' || op === 'TransactGetItems')
      return (body.TransactItems as Json[]).map((item) => {
        const [kind, spec] = Object.entries(item)[0] as [string, Json];
        const name = { Put: 'PutItem', Update: 'UpdateItem', Delete: 'DeleteItem', ConditionCheck: 'ConditionCheckItem', Get: 'GetItem' }[kind] ?? kind;
        return { action: action(name), resource: tableArn(spec.TableName) };
      });
    return [{ action: action(op), resource: tableArn(body.TableName, body.IndexName) }];
  }
  if (target?.startsWith('DynamoDBStreams_20120810.')) {
    const op = target.slice('DynamoDBStreams_20120810.'.length);
    // a shard iterator names its stream (DynamoDB Local: "<stream arn>|…")
    const stream = body.StreamArn ?? String(body.ShardIterator ?? '').split('|')[0];
    return [{ action: `dynamodb:${op}`, resource: op === 'ListStreams' ? '*' : stream }];
  }
  if (target?.startsWith('AmazonSQS.')) {
    const op = target.slice('AmazonSQS.'.length);
    const name = String(body.QueueUrl ?? '')
      .split('/')
      .pop();
    // SendMessageBatch is authorized as sqs:SendMessage (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-api-permissions-reference.html)
    const action = `sqs:${op === 'SendMessageBatch' ? 'SendMessage' : op === 'DeleteMessageBatch' ? 'DeleteMessage' : op}`;
    return [{ action, resource: `arn:aws:sqs:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${name}` }];
  }
  const connection = /\/@connections\/(.+)$/.exec(req.path)?.[1];
  if (connection) {
    // https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-websocket-control-access-iam.html
    return [
      {
        action: 'execute-api:ManageConnections',
        resource: `arn:aws:execute-api:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${apiId}/${stage}/${req.method}/@connections/${decodeURIComponent(connection)}`,
      },
    ];
  }
  return undefined;
}

// ---------- the check in the SDK's HTTP handler ----------

interface State {
  policies: Map<string, FunctionPolicy>;
  stage: string;
  apiId: string;
  functionOf: () => string | undefined;
  onCheck?: (c: Checked) => void;
  decisions: Map<string, ReturnType<typeof evaluate>>;
}

let state: State | undefined;
let installed = false;

const REFUSAL = 'is not authorized to perform';

/** The service's own answer to a call IAM refuses (so the SDK raises its own exception). */
function refusal(fn: string, role: string, action: string, resource: string, decision: Decision['decision']) {
  const { HttpResponse } = sdkRequire('@smithy/core/protocols') as { HttpResponse: new (o: object) => unknown };
  // https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html
  const why =
    decision === 'explicit-deny' ? `with an explicit deny in an identity-based policy` : `because no identity-based policy allows the ${action} action`;
  const message = `User: arn:aws:sts::${LOCAL_ACCOUNT}:assumed-role/${role}/${fn} ${REFUSAL}: ${action} on resource: ${resource} ${why}`;
  const connections = action.startsWith('execute-api:');
  const payload = connections ? { message } : { __type: 'com.amazon.coral.service#AccessDeniedException', Message: message, message };
  const headers: Record<string, string> = {
    'content-type': connections ? 'application/json' : 'application/x-amz-json-1.0',
    'x-amzn-errortype': connections ? 'ForbiddenException' : 'AccessDeniedException',
    'x-amzn-requestid': randomUUID(),
  };
  if (action.startsWith('sqs:')) headers['x-amzn-query-error'] = 'AccessDenied;Sender';
  return new HttpResponse({ statusCode: connections ? 403 : 400, headers, body: Readable.from([Buffer.from(JSON.stringify(payload))]) });
}

/**
 * Starts checking every SDK call of this thread against `policies` (replacing
 * what an earlier call set up). `functionOf` names the function the current
 * invocation belongs to.
 */
export function enforceIam(opts: {
  template: CfnTemplate;
  names: LocalNames;
  functionOf: () => string | undefined;
  onCheck?: (c: Checked) => void;
}): () => void {
  const mine: State = {
    policies: functionPolicies(opts.template, opts.names),
    stage: webSocketStage(opts.template),
    apiId: opts.names.apiId,
    functionOf: opts.functionOf,
    onCheck: opts.onCheck,
    decisions: new Map(),
  };
  state = mine;
  // stops checking for this stack (a later stack's set-up is left alone)
  const stop = () => {
    if (state === mine) state = undefined;
  };
  if (installed) return stop;
  installed = true;
  const { NodeHttpHandler } = sdkRequire('@smithy/node-http-handler') as typeof import('@smithy/node-http-handler');
  const original = NodeHttpHandler.prototype.handle;
  NodeHttpHandler.prototype.handle = async function handle(this: InstanceType<typeof NodeHttpHandler>, request, options) {
    const s = state;
    const fn = s?.functionOf();
    if (s && fn) {
      const policy = s.policies.get(fn);
      const needed = permissionsFor(request as unknown as Request, s.stage, s.apiId);
      if (needed) {
        if (!policy) throw new Error(`local IAM: function ${fn} is not in the template`);
        for (const need of needed) {
          const { action } = need;
          const resource = localArn(need.resource);
          // policies do not change while a stack runs: one evaluation per (function, action, resource)
          const key = `${fn}\u0000${action}\u0000${resource}`;
          const d = s.decisions.get(key) ?? evaluate(policy.statements, action, resource);
          s.decisions.set(key, d);
          s.onCheck?.({ fn, action, resource, decision: d.decision });
          if (d.decision !== 'allow')
            return { response: refusal(fn, policy.role, action, resource, d.decision) as Awaited<ReturnType<typeof original>>['response'] };
        }
      }
    }
    return original.call(this, request, options);
  };
  return stop;
}

/** Every Allow grant of every function: (function, action, resource pattern), to tell which the suite used. */
export function allGrants(template: CfnTemplate, names: LocalNames): Grant[] {
  const grants: Grant[] = [];
  for (const [fn, p] of functionPolicies(template, names))
    for (const s of p.statements) {
      if (s.Effect !== 'Allow' || !s.Action || !s.Resource) continue;
      for (const action of [s.Action].flat()) for (const resource of [s.Resource].flat()) grants.push({ fn, action, resource });
    }
  return grants;
}

/** The calls this thread checked (deduplicated), for tests and the grant-usage report. */
export class CheckLog {
  private readonly seen = new Map<string, Checked>();
  readonly record = (c: Checked): void => {
    this.seen.set(`${c.fn} ${c.action} ${c.resource} ${c.decision}`, c);
  };
  list(): Checked[] {
    return [...this.seen.values()];
  }
  clear(): void {
    this.seen.clear();
  }
}

/** Names that stand for whatever a stack called its resources: grants and calls of every test stack compare on them. */
export const PLACEHOLDER_NAMES: LocalNames = {
  tables: { Presence: { name: 'PresenceTable', streamArn: 'PresenceTableStream' }, Graph: { name: 'GraphTable' } },
  apiId: 'WebSocketApi',
  chunkQueue: 'FanoutChunkQueue',
};

/** A checked call with this stack's names replaced by the placeholders. */
export function withPlaceholders(c: Checked, names: LocalNames): Checked {
  let resource = c.resource;
  const swap: [string | undefined, string | undefined][] = [
    [names.tables.Presence.streamArn && localArn(names.tables.Presence.streamArn), PLACEHOLDER_NAMES.tables.Presence.streamArn],
    [`table/${names.tables.Presence.name}`, `table/${PLACEHOLDER_NAMES.tables.Presence.name}`],
    [`table/${names.tables.Graph.name}`, `table/${PLACEHOLDER_NAMES.tables.Graph.name}`],
    [`:${names.apiId}/`, `:${PLACEHOLDER_NAMES.apiId}/`],
  ];
  for (const [from, to] of swap) if (from && to && resource.includes(from)) resource = resource.replace(from, to);
  if (names.chunkQueue) resource = resource.replace(`:${names.chunkQueue}`, `:${PLACEHOLDER_NAMES.chunkQueue}`);
  return { ...c, resource };
}

/** Which grants some checked call used, and which none did. */
export function grantUsage(grants: readonly Grant[], calls: readonly Checked[]): { used: Grant[]; unused: Grant[] } {
  const used: Grant[] = [];
  const unused: Grant[] = [];
  for (const g of grants) {
    const hit = calls.some((c) => c.decision === 'allow' && c.fn === g.fn && wildcardMatch(g.action, c.action, true) && wildcardMatch(g.resource, c.resource));
    (hit ? used : unused).push(g);
  }
  return { used, unused };
}
