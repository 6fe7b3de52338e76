/**
 * Polls a table's DynamoDB Local stream like Lambda's event source mapping:
 * applies the same filter patterns, hands the handler real
 * `DynamoDBStreamEvent` batches, honours partial batch responses (retries
 * from the first failed record, bounded, then drops it to the log as an
 * on-failure destination would) and polls every `intervalMs`. Like
 * `ParallelizationFactor`, each shard's records are spread over
 * `parallelization` lanes by partition key: up to that many batches run at
 * once, records of one key always in order, one after the other.
 */
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as StreamRecord,
  TrimmedDataAccessException,
} from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { matchesAny } from './filter.ts';

export interface StreamPollerOptions {
  client: DynamoDBClient;
  endpoint: string;
  tableName: string;
  handler: (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse | undefined>;
  filterPatterns: readonly Record<string, unknown>[];
  intervalMs?: number;
  batchSize?: number;
  /** concurrent batches per shard, records of one partition key in order (default 1) */
  parallelization?: number;
  maxRetries?: number;
  onLog?: (line: string) => void;
}

/** Records of some partition keys, delivered in order, one batch at a time. */
interface Lane {
  queue: DynamoDBRecord[];
  attempts: number;
  running: Promise<void> | undefined;
}

interface ShardState {
  iterator: string | undefined;
  /** sequence number of the last record read, to re-open the shard after it */
  lastSequence?: string;
  /** a child shard is read only once its parent is read to its end (order per key across a roll-over) */
  parent?: string;
  done: boolean;
}

/** records read but not yet delivered, across lanes, before reading pauses (back-pressure) */
const READ_AHEAD_LIMIT = 2000;

export class StreamPoller {
  private readonly streams: DynamoDBStreamsClient;
  private readonly shards = new Map<string, ShardState>();
  /** shared by all shards: a user's records from a parent shard and then its child stay in one lane, in order */
  private readonly lanes: Lane[];
  private streamArn = '';
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private busy: Promise<void> = Promise.resolve();
  private lastDiscovery = 0;
  /** counters for tests and the benchmark */
  readonly stats = { batches: 0, records: 0, filteredOut: 0, failures: 0, dropped: 0 };
  /** the last batches handed to the handler (tests replay them) */
  readonly recentBatches: DynamoDBStreamEvent[] = [];

  constructor(private readonly opts: StreamPollerOptions) {
    this.streams = new DynamoDBStreamsClient({
      endpoint: opts.endpoint,
      region: 'local',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    this.lanes = Array.from({ length: Math.max(1, opts.parallelization ?? 1) }, () => ({ queue: [], attempts: 0, running: undefined }));
  }

  /**
   * Starts reading: at the tip of every open shard (records written before
   * start-up are history), or from the oldest record of every shard (a
   * consumer replacing one that died).
   */
  async start(from: 'LATEST' | 'TRIM_HORIZON' = 'LATEST'): Promise<void> {
    const out = await this.opts.client.send(new DescribeTableCommand({ TableName: this.opts.tableName }));
    this.streamArn = out.Table?.LatestStreamArn ?? '';
    if (!this.streamArn) throw new Error(`table ${this.opts.tableName} has no stream`);
    await this.discover(from);
    this.running = true;
    this.schedule();
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.busy = this.poll()
        .catch((err) => this.opts.onLog?.(`stream poll failed: ${(err as Error).stack}`))
        .finally(() => this.schedule());
    }, this.opts.intervalMs ?? 100);
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    await this.busy;
    // what was read is delivered before the poller goes (each lane drains its queue)
    await Promise.all(this.lanes.map((l) => l.running));
    this.streams.destroy();
  }

  private async discover(position: 'LATEST' | 'TRIM_HORIZON'): Promise<void> {
    this.lastDiscovery = Date.now();
    let start: string | undefined;
    do {
      const out = await this.streams.send(new DescribeStreamCommand({ StreamArn: this.streamArn, ExclusiveStartShardId: start }));
      for (const shard of out.StreamDescription?.Shards ?? []) {
        const id = shard.ShardId as string;
        if (this.shards.has(id)) continue;
        const closed = shard.SequenceNumberRange?.EndingSequenceNumber !== undefined;
        if (position === 'LATEST' && closed) {
          this.shards.set(id, { iterator: undefined, done: true });
          continue;
        }
        const it = await this.streams.send(new GetShardIteratorCommand({ StreamArn: this.streamArn, ShardId: id, ShardIteratorType: position }));
        this.shards.set(id, { iterator: it.ShardIterator, parent: shard.ParentShardId, done: false });
      }
      start = out.StreamDescription?.LastEvaluatedShardId;
    } while (start);
  }

  private async poll(): Promise<void> {
    // new shards appear as DynamoDB Local rolls them; anything found after start-up is read from its start
    if (Date.now() - this.lastDiscovery > 1000) await this.discover('TRIM_HORIZON');
    await Promise.all([...this.shards.entries()].filter(([, s]) => !s.done).map(([id, s]) => this.pollShard(id, s)));
  }

  private async pollShard(id: string, shard: ShardState): Promise<void> {
    if (!shard.iterator) {
      shard.done = true; // read to its end: what it had is queued in the lanes
      return;
    }
    const parent = shard.parent ? this.shards.get(shard.parent) : undefined;
    if (parent && !parent.done) return;
    if (this.lanes.reduce((n, l) => n + l.queue.length, 0) >= READ_AHEAD_LIMIT) return;
    try {
      const t0 = performance.now();
      const out = await this.streams.send(new GetRecordsCommand({ ShardIterator: shard.iterator, Limit: this.opts.batchSize ?? 100 }));
      if (process.env.STREAM_DEBUG && out.Records?.length) this.opts.onLog?.(`GetRecords ${out.Records.length} in ${(performance.now() - t0).toFixed(0)} ms`);
      shard.iterator = out.NextShardIterator;
      const last = out.Records?.[out.Records.length - 1]?.dynamodb?.SequenceNumber;
      if (last) shard.lastSequence = last;
      const records = (out.Records ?? []).map((r) => this.toLambdaRecord(r));
      this.stats.records += records.length;
      for (const r of records) {
        if (!matchesAny(this.opts.filterPatterns, r)) {
          this.stats.filteredOut++;
          continue;
        }
        const lane = this.lanes[laneOf(r, this.lanes.length)] as Lane;
        lane.queue.push(r);
        lane.running ??= this.drain(lane);
      }
    } catch (err) {
      if (err instanceof ExpiredIteratorException || err instanceof TrimmedDataAccessException) {
        // DynamoDB Local sometimes refuses an idle iterator: re-open the shard after the last record read
        const it = await this.streams.send(
          new GetShardIteratorCommand({
            StreamArn: this.streamArn,
            ShardId: id,
            ...(shard.lastSequence
              ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: shard.lastSequence }
              : { ShardIteratorType: 'TRIM_HORIZON' }),
          }),
        );
        shard.iterator = it.ShardIterator;
        return;
      }
      throw err;
    }
  }

  /**
   * Delivers a lane's queue batch by batch until it is empty. `running` is
   * cleared in the same synchronous step that finds the queue empty, so a
   * record queued at any later moment starts a new drain.
   */
  private async drain(lane: Lane): Promise<void> {
    try {
      while (lane.queue.length > 0) await this.deliver(lane);
    } catch (err) {
      // deliver() handles the handler's failures; anything else is a bug of the poller: say so, keep the records, try again
      this.opts.onLog?.(`stream lane failed: ${(err as Error).stack}`);
      setTimeout(() => {
        if (lane.queue.length > 0) lane.running ??= this.drain(lane);
      }, 1000);
    } finally {
      lane.running = undefined;
    }
  }

  /** Hands the lane's next batch to the handler; removes what succeeded (or was given up on) from the queue. */
  private async deliver(lane: Lane): Promise<void> {
    const batch = lane.queue.slice(0, this.opts.batchSize ?? 100);
    this.stats.batches++;
    this.recentBatches.push({ Records: batch });
    if (this.recentBatches.length > 50) this.recentBatches.shift();
    let failedFrom = -1;
    try {
      const t0 = performance.now();
      const res = await this.opts.handler({ Records: batch });
      if (process.env.STREAM_DEBUG) this.opts.onLog?.(`handler ${batch.length} records in ${(performance.now() - t0).toFixed(0)} ms`);
      const failures = res?.batchItemFailures ?? [];
      if (failures.length) {
        const seqs = new Set(failures.map((f) => f.itemIdentifier));
        failedFrom = batch.findIndex((r) => seqs.has(r.dynamodb?.SequenceNumber ?? ''));
        if (failedFrom < 0) failedFrom = 0;
      }
    } catch (err) {
      this.opts.onLog?.(`stream handler threw: ${(err as Error).message}`);
      failedFrom = 0;
    }
    if (failedFrom < 0) {
      lane.queue.splice(0, batch.length);
      lane.attempts = 0;
      return;
    }
    this.stats.failures++;
    lane.attempts++;
    lane.queue.splice(0, failedFrom); // the records before the failed one are done
    if (lane.attempts > (this.opts.maxRetries ?? 3)) {
      const [dropped] = lane.queue.splice(0, 1);
      this.stats.dropped++;
      this.opts.onLog?.(`stream record dropped after retries (on-failure destination): ${JSON.stringify(dropped?.dynamodb?.Keys)}`);
      lane.attempts = 0;
    } else {
      await new Promise((r) => setTimeout(r, 100 * 2 ** lane.attempts));
    }
  }

  private toLambdaRecord(r: StreamRecord): DynamoDBRecord {
    const d = r.dynamodb ?? {};
    return {
      eventID: r.eventID,
      eventName: r.eventName as DynamoDBRecord['eventName'],
      eventVersion: r.eventVersion ?? '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: r.awsRegion ?? 'local',
      eventSourceARN: this.streamArn,
      ...(r.userIdentity ? { userIdentity: r.userIdentity } : {}),
      dynamodb: {
        ApproximateCreationDateTime: d.ApproximateCreationDateTime ? Math.floor(new Date(d.ApproximateCreationDateTime).getTime() / 1000) : undefined,
        Keys: wire(d.Keys),
        NewImage: wire(d.NewImage),
        OldImage: wire(d.OldImage),
        SequenceNumber: d.SequenceNumber,
        SizeBytes: d.SizeBytes,
        StreamViewType: d.StreamViewType as never,
      },
    };
  }
}

/**
 * The SDK's stream client deserializes an empty map attribute `{"M":{}}` to `{}`;
 * Lambda hands the service's JSON through unchanged, so restore the wire shape.
 */
function wire(image: Record<string, any> | undefined): never {
  if (!image) return undefined as never;
  const fix = (v: Record<string, unknown>): Record<string, unknown> => {
    if (Object.keys(v).length === 0) return { M: {} };
    if (v.M && typeof v.M === 'object') return { M: Object.fromEntries(Object.entries(v.M).map(([k, x]) => [k, fix(x as Record<string, unknown>)])) };
    if (Array.isArray(v.L)) return { L: v.L.map((x) => fix(x as Record<string, unknown>)) };
    return v;
  };
  return Object.fromEntries(Object.entries(image).map(([k, v]) => [k, fix(v)])) as never;
}

/** The lane of a record: a hash of its partition key (records of one key share a lane, so keep their order). */
export function laneOf(record: DynamoDBRecord, lanes: number): number {
  if (lanes <= 1) return 0;
  const key = JSON.stringify(record.dynamodb?.Keys?.pk ?? record.dynamodb?.Keys ?? '');
  let h = 2166136261;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619);
  return (h >>> 0) % lanes;
}
