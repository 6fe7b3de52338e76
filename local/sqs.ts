/**
 * The fan-out chunk queue of the local stack: just enough of Amazon SQS's
 * JSON protocol (SendMessage, SendMessageBatch with DelaySeconds) for the
 * real `@aws-sdk/client-sqs` client of the handlers to send to it, as they do
 * to SQS on AWS (FANOUT_QUEUE_URL points here). What is sent is handed to
 * `deliver` once its delay is over; delivery, retries and dead-lettering are
 * the caller's (the SQS event source mapping's part).
 * Wire format: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { LOCAL_ACCOUNT } from './iam.ts';

export interface SqsMessage {
  id: string;
  queue: string;
  body: string;
  /** epoch ms when it becomes visible (DelaySeconds) */
  visibleAt: number;
}

const md5 = (s: string) => createHash('md5').update(s, 'utf8').digest('hex');

/** SQS's limits on one batch (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html; quotas: 1 MiB per message and per batch). */
const MAX_BATCH_ENTRIES = 10;
const MAX_BATCH_BYTES = 1024 * 1024;

/** What SQS refuses a batch for, if anything. */
function batchProblem(entries: { Id: string; MessageBody: string }[]): { type: string; message: string } | undefined {
  if (entries.length === 0) return { type: 'EmptyBatchRequest', message: 'There should be at least one SendMessageBatchRequestEntry in the request.' };
  if (entries.length > MAX_BATCH_ENTRIES)
    return { type: 'TooManyEntriesInBatchRequest', message: `Maximum number of entries per request are ${MAX_BATCH_ENTRIES}.` };
  if (new Set(entries.map((e) => e.Id)).size !== entries.length) return { type: 'BatchEntryIdsNotDistinct', message: 'Id values must be distinct.' };
  if (entries.some((e) => !/^[A-Za-z0-9_-]{1,80}$/.test(e.Id)))
    return { type: 'InvalidBatchEntryId', message: 'A batch entry id can only contain alphanumeric characters, hyphens and underscores.' };
  const bytes = entries.reduce((n, e) => n + Buffer.byteLength(e.MessageBody, 'utf8'), 0);
  if (bytes > MAX_BATCH_BYTES) return { type: 'BatchRequestTooLong', message: `Batch requests cannot be longer than ${MAX_BATCH_BYTES} bytes.` };
  return undefined;
}

export class LocalSqs {
  private server: Server | undefined;
  url = '';

  constructor(private readonly deliver: (message: SqsMessage) => void) {}

  /** The URL of queue `name` (what FANOUT_QUEUE_URL holds). */
  queueUrl(name: string): string {
    return `${this.url}/${LOCAL_ACCOUNT}/${name}`;
  }

  async start(host = '127.0.0.1'): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const answer = (status: number, body: unknown, type?: string) => {
          res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', ...(type ? { 'x-amzn-query-error': `${type};Sender` } : {}) });
          res.end(JSON.stringify(body));
        };
        try {
          const op = String(req.headers['x-amz-target'] ?? '').replace('AmazonSQS.', '');
          const input = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
          const queue = String(input.QueueUrl ?? '')
            .split('/')
            .pop() as string;
          const send = (body: string, delaySeconds = 0) => {
            const id = randomUUID();
            this.deliver({ id, queue, body, visibleAt: Date.now() + delaySeconds * 1000 });
            return { MessageId: id, MD5OfMessageBody: md5(body) };
          };
          if (op === 'SendMessage') return answer(200, send(input.MessageBody, input.DelaySeconds));
          if (op === 'SendMessageBatch') {
            const entries = (input.Entries ?? []) as { Id: string; MessageBody: string; DelaySeconds?: number }[];
            const refused = batchProblem(entries);
            if (refused)
              return answer(400, { __type: `com.amazonaws.sqs#${refused.type}`, message: refused.message }, `AWS.SimpleQueueService.${refused.type}`);
            return answer(200, { Successful: entries.map((e) => ({ Id: e.Id, ...send(e.MessageBody, e.DelaySeconds) })), Failed: [] });
          }
          answer(400, { __type: 'com.amazonaws.sqs#InvalidAction', message: `the local queue does not do ${op}` }, 'AWS.SimpleQueueService.InvalidAction');
        } catch (err) {
          answer(400, { __type: 'com.amazonaws.sqs#InvalidParameterValue', message: (err as Error).message }, 'InvalidParameterValue');
        }
      });
    });
    await new Promise<void>((ok) => this.server?.listen(0, host, ok));
    const address = this.server.address();
    this.url = `http://${host}:${typeof address === 'object' && address ? address.port : 0}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((ok) => (this.server ? this.server.close(() => ok()) : ok()));
  }
}
