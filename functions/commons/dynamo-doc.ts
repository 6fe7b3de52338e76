/**
 * Document-style DynamoDB calls (plain JavaScript values in and out) over the
 * base DynamoDBClient, for the store (functions/commons/store.ts).
 *
 * Why not lib-dynamodb's DynamoDBDocumentClient: it refuses the SDK's
 * `cacheMiddleware` option (its constructor throws), and without that option
 * every `send` re-resolves the client's middleware stack: for a document
 * command twice (its own stack, then the wrapped command's), cloning, sorting
 * and concatenating about 30 middlewares per request. Profiled on the
 * benchmark's fan-out to 3000, that resolution was the largest single cost of
 * the stream consumer (smithy's `resolveMiddleware`/`getMiddlewareList`: 48 %
 * of its CPU). With `cacheMiddleware` the resolved handler is built once per
 * command class and reused; the SDK's own description (smithy-client's
 * `cacheMiddleware`): "the client will only resolve the middleware stack once
 * per Command class [...] Enable this only if needing the additional time
 * saved (0-1ms per request) and not needing middleware modifications between
 * requests" (our middlewares, the local instrumentation and the Tracer's, are
 * added when the client is made, before any request).
 *
 * The marshalling is still the SDK's own (@aws-sdk/util-dynamodb `marshall` /
 * `unmarshall`, what lib-dynamodb calls), applied to exactly the fields
 * lib-dynamodb translates for the operations the store makes; the input and
 * output types are lib-dynamodb's (types only: the package is not bundled).
 */
import {
  type AttributeValue,
  BatchGetItemCommand,
  BatchWriteItemCommand,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type {
  BatchGetCommandInput,
  BatchGetCommandOutput,
  BatchWriteCommandInput,
  BatchWriteCommandOutput,
  DeleteCommandInput,
  DeleteCommandOutput,
  GetCommandInput,
  GetCommandOutput,
  PutCommandInput,
  PutCommandOutput,
  QueryCommandInput,
  QueryCommandOutput,
  TransactWriteCommandInput,
  TransactWriteCommandOutput,
  UpdateCommandInput,
  UpdateCommandOutput,
} from '@aws-sdk/lib-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';

type Doc = Record<string, unknown>;
type Raw = Record<string, AttributeValue>;
type Any = any;

const OPTIONS = { removeUndefinedValues: true } as const;
const m = (v: Doc | undefined): Raw | undefined => (v === undefined ? undefined : (marshall(v, OPTIONS) as Raw));
const u = (v: Raw | undefined): Doc | undefined => (v === undefined ? undefined : unmarshall(v));
const us = (v: Raw[] | undefined): Doc[] | undefined => v?.map((i) => unmarshall(i));

/** Key, Item and ExpressionAttributeValues of one item operation, marshalled */
function itemInput<T extends { Key?: Doc; Item?: Doc; ExpressionAttributeValues?: Doc }>(input: T): Any {
  const out: Any = { ...input };
  if (input.Key) out.Key = m(input.Key);
  if (input.Item) out.Item = m(input.Item);
  if (input.ExpressionAttributeValues) out.ExpressionAttributeValues = m(input.ExpressionAttributeValues);
  return out;
}

/** a BatchWrite's RequestItems (or UnprocessedItems), each Put's Item and Delete's Key converted by `f` */
function writeRequests(items: Record<string, Any[]> | undefined, f: (v: Any) => Any): Any {
  if (!items) return items;
  const out: Record<string, Any[]> = {};
  for (const [table, requests] of Object.entries(items))
    out[table] = requests.map((r) =>
      r.PutRequest ? { PutRequest: { ...r.PutRequest, Item: f(r.PutRequest.Item) } } : { DeleteRequest: { ...r.DeleteRequest, Key: f(r.DeleteRequest.Key) } },
    );
  return out;
}

/** a BatchGet's RequestItems (or UnprocessedKeys), each table's Keys converted by `f` */
function keysAndAttributes(items: Record<string, Any> | undefined, f: (v: Any) => Any): Any {
  if (!items) return items;
  const out: Record<string, Any> = {};
  for (const [table, k] of Object.entries(items)) out[table] = { ...k, Keys: k.Keys?.map(f) };
  return out;
}

export class DocClient {
  constructor(readonly client: DynamoDBClient) {}

  async get(input: GetCommandInput): Promise<GetCommandOutput> {
    const out = await this.client.send(new GetItemCommand(itemInput(input)));
    return { ...out, Item: u(out.Item) } as GetCommandOutput;
  }

  async put(input: PutCommandInput): Promise<PutCommandOutput> {
    const out = await this.client.send(new PutItemCommand(itemInput(input)));
    return { ...out, Attributes: u(out.Attributes) } as PutCommandOutput;
  }

  async update(input: UpdateCommandInput): Promise<UpdateCommandOutput> {
    const out = await this.client.send(new UpdateItemCommand(itemInput(input)));
    return { ...out, Attributes: u(out.Attributes) } as UpdateCommandOutput;
  }

  async delete(input: DeleteCommandInput): Promise<DeleteCommandOutput> {
    const out = await this.client.send(new DeleteItemCommand(itemInput(input)));
    return { ...out, Attributes: u(out.Attributes) } as DeleteCommandOutput;
  }

  async query(input: QueryCommandInput): Promise<QueryCommandOutput> {
    const out = await this.client.send(
      new QueryCommand({
        ...(input as Any),
        ExpressionAttributeValues: m(input.ExpressionAttributeValues),
        ExclusiveStartKey: m(input.ExclusiveStartKey),
      }),
    );
    return { ...out, Items: us(out.Items), LastEvaluatedKey: u(out.LastEvaluatedKey) } as QueryCommandOutput;
  }

  async batchGet(input: BatchGetCommandInput): Promise<BatchGetCommandOutput> {
    const out = await this.client.send(new BatchGetItemCommand({ ...(input as Any), RequestItems: keysAndAttributes(input.RequestItems, m) }));
    const responses: Record<string, Doc[]> = {};
    for (const [table, items] of Object.entries(out.Responses ?? {})) responses[table] = items.map((i) => unmarshall(i));
    return { ...out, Responses: responses, UnprocessedKeys: keysAndAttributes(out.UnprocessedKeys, u) } as BatchGetCommandOutput;
  }

  async batchWrite(input: BatchWriteCommandInput): Promise<BatchWriteCommandOutput> {
    const out = await this.client.send(new BatchWriteItemCommand({ ...(input as Any), RequestItems: writeRequests(input.RequestItems as Any, m) }));
    return { ...out, UnprocessedItems: writeRequests(out.UnprocessedItems as Any, u) } as BatchWriteCommandOutput;
  }

  async transactWrite(input: TransactWriteCommandInput): Promise<TransactWriteCommandOutput> {
    const items = input.TransactItems?.map((t: Any) => {
      const [[kind, op]] = Object.entries(t) as [[string, Any]];
      return { [kind]: itemInput(op) };
    });
    return (await this.client.send(new TransactWriteItemsCommand({ ...(input as Any), TransactItems: items }))) as TransactWriteCommandOutput;
  }
}
