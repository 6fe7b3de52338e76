/**
 * Polls a table's DynamoDB Local stream like Lambda's event source mapping:
 * applies the same filter patterns, hands the handler real
 * `DynamoDBStreamEvent` batches, honours partial batch responses (retries
 * from the first failed record, bounded, then drops it to the log as an
 * on-failure destination would) and polls every `intervalMs`. Like
 * `ParallelizationFactor`, each shard's records are spread over
 * `parallelization` lanes by partition key: up to that many batches run at
 * once, records of one key always in order, one after the other.
 *
 * Like the event source mapping it keeps a checkpoint per shard: the sequence
 * number up to which every record was handled (or filtered out, or given up
 * on). `onCheckpoint` hears every advance; a poller started from a checkpoint
 * resumes right after it, so a consumer that stops or dies never skips a
 * record (it may hand over again what it handled after its last checkpoint:
 * at least once, as on AWS).
 */
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { AttributeValue, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { lean } from '../functions/commons/sdk.ts';
import { awsJsonCaller } from '../functions/commons/signed-request.ts';
import { matchesAny } from './filter.ts';
import { sdkRequire } from './iam.ts';

/** A stream record as DynamoDB Streams' GetRecords answers it on the wire (its JSON: B as base64, times in epoch seconds, as in Lambda's events). */
export interface WireStreamRecord {
  eventID?: string;
  eventName?: string;
  eventVersion?: string;
  awsRegion?: string;
  userIdentity?: { type: string; principalId: string };
  dynamodb?: {
    ApproximateCreationDateTime?: number;
    Keys?: Record<string, AttributeValue>;
    NewImage?: Record<string, AttributeValue>;
    OldImage?: Record<string, AttributeValue>;
    SequenceNumber?: string;
    SizeBytes?: number;
    StreamViewType?: string;
  };
}

interface WireShard {
  ShardId?: string;
  ParentShardId?: string;
  SequenceNumberRange?: { StartingSequenceNumber?: string; EndingSequenceNumber?: string };
}

// the SDK's own error classification (what its retry strategy reads), from the copy the SDK clients use
const { isServerError, isThrottlingError, isTransientError } = sdkRequire('@smithy/core/retry') as typeof import('@smithy/core/retry');

/** an error worth another attempt, as the SDK's retry strategy judges it: throttling, transient (no answer, timeout, 5xx) or a server error */
export function mayPass(err: unknown): boolean {
  const e = err as Parameters<typeof isTransientError>[0];
  return e instanceof Error && (isThrottlingError(e) || isTransientError(e) || isServerError(e));
}

/** the errors of an iterator DynamoDB Local no longer honours: re-open the shard */
export const isStaleIterator = (err: unknown) => ['ExpiredIteratorException', 'TrimmedDataAccessException'].includes((err as Error)?.name);

/**
 * The stream reader of the local event source mapping (and of the
 * benchmark's stream floor): DescribeStream, GetShardIterator and GetRecords
 * as JSON calls signed and sent through a DynamoDB Streams client's own
 * signer and HTTP handler (functions/commons/signed-request.ts), without the
 * SDK's command pipeline.
 *
 * Why: on AWS, reading the stream is the event source mapping's work, not
 * the function's. Locally it ran on the consumer's thread through the SDK,
 * whose schema deserializer walked every record's images into SDK shapes
 * that the poller then turned back into Lambda's (B values base64 again,
 * times back to epoch seconds). Read raw, a record is already in the shape
 * Lambda's events carry. The consumer's CPU per push (npm run bench) counts
 * this emulation: an idle stack (reads 10 a second) went from 4.2 to 3.8 %
 * of a core with this change.
 */
export function localStreamsReader(endpoint: string) {
  const client = lean(new DynamoDBStreamsClient({ endpoint, region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }));
  const once = awsJsonCaller(client, endpoint, 'DynamoDBStreams_20120810');
  // as the SDK's default retry strategy would: up to 3 attempts for what may pass (no answer, 5xx, throttling), backing off
  const call = async <T>(op: string, input: object): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await once<T>(op, input);
      } catch (err) {
        if (attempt >= 3 || !mayPass(err)) throw err;
        await new Promise((r) => setTimeout(r, 100 * 2 ** (attempt - 1)));
      }
    }
  };
  return {
    describeStream: (input: { StreamArn: string; ExclusiveStartShardId?: string }) =>
      call<{ StreamDescription?: { Shards?: WireShard[]; LastEvaluatedShardId?: string } }>('DescribeStream', input),
    getShardIterator: (input: { StreamArn: string; ShardId: string; ShardIteratorType: string; SequenceNumber?: string }) =>
      call<{ ShardIterator?: string }>('GetShardIterator', input),
    getRecords: (input: { ShardIterator: string; Limit?: number }) => call<{ Records?: WireStreamRecord[]; NextShardIterator?: string }>('GetRecords', input),
    destroy: () => client.destroy(),
  };
}

export type LocalStreamsReader = ReturnType<typeof localStreamsReader>;

export interface StreamPollerOptions {
  client: DynamoDBClient;
  endpoint: string;
  tableName: string;
  handler: (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse | undefined>;
  filterPatterns: readonly Record<string, unknown>[];
  /** between polls (default 100 ms; local/stack.ts says why not Lambda's 250) */
  intervalMs?: number;
  batchSize?: number;
  /** concurrent batches per shard, records of one partition key in order (default 1) */
  parallelization?: number;
  maxRetries?: number;
  /** hears every advance of the checkpoint (the local stack persists it with its data) */
  onCheckpoint?: (checkpoint: StreamCheckpoint) => void;
  /**
   * runs each stream read as the event source mapping makes it: with the
   * function's execution role (the local stack checks it against the role's policies)
   */
  asFunction?: <T>(read: () => Promise<T>) => Promise<T>;
  onLog?: (line: string) => void;
}

/** Where a consumer stands in a stream: per shard, the last sequence number handled (or the shard is finished). */
export interface StreamCheckpoint {
  streamArn: string;
  shards: Record<string, { after?: string; finished?: true }>;
}

/** Where a poller starts: a checkpoint (resume after it), the oldest record, or the tip. */
export type StartPosition = StreamCheckpoint | 'TRIM_HORIZON' | 'LATEST';

/** A record read from a shard and not yet handled. */
interface Pending {
  record: DynamoDBRecord;
  shard: ShardState;
  handled: boolean;
}

/** Records of some partition keys, delivered in order, one batch at a time. */
interface Lane {
  queue: Pending[];
  attempts: number;
  running: Promise<void> | undefined;
}

interface ShardState {
  id: string;
  iterator: string | undefined;
  /** sequence number of the last record read, to re-open the shard after it */
  lastSequence?: string;
  /** a child shard is read only once its parent is read to its end (order per key across a roll-over) */
  parent?: string;
  /** read to its end */
  done: boolean;
  /** records read, in stream order, not yet all handled */
  pending: Pending[];
  /** every record up to this sequence number is handled */
  checkpoint?: string;
  /** what onCheckpoint last heard of this shard */
  reported?: string;
}

/** the longest wait between two tries of a failed batch */
export const RETRY_BACKOFF_CAP_MS = 5000;
/** records read but not yet delivered, across lanes, before reading pauses (back-pressure) */
const READ_AHEAD_LIMIT = 2000;

export class StreamPoller {
  private readonly streams: LocalStreamsReader;
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
    const streams = localStreamsReader(opts.endpoint);
    // every stream read is made as the event source mapping makes it (with the function's role, when asked)
    const asFunction = opts.asFunction;
    const as =
      <A, T>(read: (input: A) => Promise<T>) =>
      (input: A) =>
        asFunction ? asFunction(() => read(input)) : read(input);
    this.streams = {
      ...streams,
      describeStream: as(streams.describeStream),
      getShardIterator: as(streams.getShardIterator),
      getRecords: as(streams.getRecords),
    };
    this.lanes = Array.from({ length: Math.max(1, opts.parallelization ?? 1) }, () => ({ queue: [], attempts: 0, running: undefined }));
  }

  /**
   * Starts reading: right after a checkpoint of this stream (shards it does
   * not know are read from their oldest record), from the oldest record of
   * every shard (no checkpoint: nothing written to the table is skipped), or
   * at the tip (tests that only want what they write next).
   */
  async start(from: StartPosition = 'TRIM_HORIZON'): Promise<void> {
    const out = await this.opts.client.send(new DescribeTableCommand({ TableName: this.opts.tableName }));
    this.streamArn = out.Table?.LatestStreamArn ?? '';
    if (!this.streamArn) throw new Error(`table ${this.opts.tableName} has no stream`);
    // a checkpoint of another stream (the table was re-created) says nothing about this one
    const checkpoint = typeof from === 'object' && from.streamArn === this.streamArn ? from : undefined;
    await this.discover(from === 'LATEST' ? 'LATEST' : 'TRIM_HORIZON', checkpoint);
    this.running = true;
    this.schedule();
  }

  /** The current checkpoint (what a replacement consumer resumes from). */
  checkpoint(): StreamCheckpoint {
    const shards: StreamCheckpoint['shards'] = {};
    for (const [id, s] of this.shards) {
      if (s.done && s.pending.length === 0) shards[id] = { finished: true };
      else if (s.checkpoint) shards[id] = { after: s.checkpoint };
    }
    return { streamArn: this.streamArn, shards };
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

  private async discover(position: 'LATEST' | 'TRIM_HORIZON', checkpoint?: StreamCheckpoint): Promise<void> {
    this.lastDiscovery = Date.now();
    let start: string | undefined;
    do {
      const out = await this.streams.describeStream({ StreamArn: this.streamArn, ...(start ? { ExclusiveStartShardId: start } : {}) });
      for (const shard of out.StreamDescription?.Shards ?? []) {
        const id = shard.ShardId as string;
        if (this.shards.has(id)) continue;
        const closed = shard.SequenceNumberRange?.EndingSequenceNumber !== undefined;
        const saved = checkpoint?.shards[id];
        if (saved?.finished || (position === 'LATEST' && closed)) {
          this.shards.set(id, { id, iterator: undefined, done: true, pending: [], reported: 'finished' });
          continue;
        }
        const iterator = await this.openShard(id, saved?.after, position);
        const after = saved?.after;
        this.shards.set(id, { id, iterator, parent: shard.ParentShardId, done: false, pending: [], checkpoint: after, reported: after, lastSequence: after });
      }
      start = out.StreamDescription?.LastEvaluatedShardId;
    } while (start);
  }

  /** An iterator right after `after`, or at `position`; a checkpoint older than the stream's retention reads from the oldest record. */
  private async openShard(id: string, after: string | undefined, position: 'LATEST' | 'TRIM_HORIZON'): Promise<string | undefined> {
    const base = { StreamArn: this.streamArn, ShardId: id };
    if (after) {
      try {
        const it = await this.streams.getShardIterator({ ...base, ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: after });
        return it.ShardIterator;
      } catch (err) {
        if ((err as Error).name !== 'TrimmedDataAccessException') throw err;
        this.opts.onLog?.(`checkpoint of shard ${id} is older than the stream's retention: reading from its oldest record`);
      }
    }
    const it = await this.streams.getShardIterator({ ...base, ShardIteratorType: after ? 'TRIM_HORIZON' : position });
    return it.ShardIterator;
  }

  private async poll(): Promise<void> {
    // new shards appear as DynamoDB Local rolls them; anything found after start-up is read from its start
    if (Date.now() - this.lastDiscovery > 1000) await this.discover('TRIM_HORIZON');
    await Promise.all([...this.shards.entries()].filter(([, s]) => !s.done).map(([id, s]) => this.pollShard(id, s)));
  }

  private async pollShard(id: string, shard: ShardState): Promise<void> {
    if (!shard.iterator) {
      shard.done = true; // read to its end: what it had is queued in the lanes
      this.advance(shard);
      return;
    }
    const parent = shard.parent ? this.shards.get(shard.parent) : undefined;
    if (parent && !parent.done) return;
    if (this.lanes.reduce((n, l) => n + l.queue.length, 0) >= READ_AHEAD_LIMIT) return;
    try {
      const t0 = performance.now();
      const out = await this.streams.getRecords({ ShardIterator: shard.iterator, Limit: this.opts.batchSize ?? 100 });
      if (process.env.STREAM_DEBUG && out.Records?.length) this.opts.onLog?.(`GetRecords ${out.Records.length} in ${(performance.now() - t0).toFixed(0)} ms`);
      shard.iterator = out.NextShardIterator;
      const last = out.Records?.[out.Records.length - 1]?.dynamodb?.SequenceNumber;
      if (last) shard.lastSequence = last;
      const records = (out.Records ?? []).map((r) => this.toLambdaRecord(r));
      this.stats.records += records.length;
      for (const record of records) {
        const pending: Pending = { record, shard, handled: false };
        shard.pending.push(pending);
        if (!matchesAny(this.opts.filterPatterns, record)) {
          this.stats.filteredOut++;
          pending.handled = true;
          continue;
        }
        const lane = this.lanes[laneOf(record, this.lanes.length)] as Lane;
        lane.queue.push(pending);
        lane.running ??= this.drain(lane);
      }
      this.advance(shard);
    } catch (err) {
      if (isStaleIterator(err)) {
        // DynamoDB Local sometimes refuses an idle iterator: re-open the shard after the last record read
        const it = await this.streams.getShardIterator({
          StreamArn: this.streamArn,
          ShardId: id,
          ...(shard.lastSequence ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: shard.lastSequence } : { ShardIteratorType: 'TRIM_HORIZON' }),
        });
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

  /** Moves the shard's checkpoint over the records handled in stream order, and tells `onCheckpoint`. */
  private advance(shard: ShardState): void {
    let n = 0;
    while (n < shard.pending.length && shard.pending[n]?.handled) n++;
    if (n > 0) shard.checkpoint = shard.pending[n - 1]?.record.dynamodb?.SequenceNumber ?? shard.checkpoint;
    shard.pending.splice(0, n);
    const entry = shard.done && shard.pending.length === 0 ? 'finished' : shard.checkpoint;
    if (entry === shard.reported) return;
    shard.reported = entry;
    this.opts.onCheckpoint?.(this.checkpoint());
  }

  /** Marks records handled (delivered, or given up on) and advances their shards' checkpoints. */
  private handled(done: Pending[]): void {
    const shards = new Set<ShardState>();
    for (const p of done) {
      p.handled = true;
      shards.add(p.shard);
    }
    for (const s of shards) this.advance(s);
  }

  /** Hands the lane's next batch to the handler; removes what succeeded (or was given up on) from the queue. */
  private async deliver(lane: Lane): Promise<void> {
    const pendings = lane.queue.slice(0, this.opts.batchSize ?? 100);
    const batch = pendings.map((p) => p.record);
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
      this.handled(lane.queue.splice(0, batch.length));
      lane.attempts = 0;
      return;
    }
    this.stats.failures++;
    lane.attempts++;
    this.handled(lane.queue.splice(0, failedFrom)); // the records before the failed one are done
    if (lane.attempts > (this.opts.maxRetries ?? 3)) {
      const dropped = lane.queue.splice(0, 1);
      this.stats.dropped++;
      this.opts.onLog?.(`stream record dropped after retries (on-failure destination): ${JSON.stringify(dropped[0]?.record.dynamodb?.Keys)}`);
      this.handled(dropped);
      lane.attempts = 0;
    } else {
      await new Promise((r) => setTimeout(r, Math.min(RETRY_BACKOFF_CAP_MS, 100 * 2 ** lane.attempts)));
    }
  }

  /** The record as Lambda's event carries it: the wire record (images as DynamoDB's JSON) with the event source's fields. */
  private toLambdaRecord(r: WireStreamRecord): DynamoDBRecord {
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
        // epoch seconds on the wire; whole seconds in Lambda's events
        ApproximateCreationDateTime: typeof d.ApproximateCreationDateTime === 'number' ? Math.floor(d.ApproximateCreationDateTime) : undefined,
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
 * DynamoDB Local's GetRecords answers an empty map attribute `{"M":{}}` as `{}`
 * (seen on its raw JSON, DynamoDB Local 3.3.0); DynamoDB, and so Lambda's
 * events, keep `{"M":{}}`: restore it. Everything else passes untouched.
 */
function wire(image: Record<string, AttributeValue> | undefined): Record<string, AttributeValue> | undefined {
  if (!image) return undefined;
  const fix = (v: Record<string, unknown>): Record<string, unknown> => {
    if (Object.keys(v).length === 0) return { M: {} };
    if (v.M && typeof v.M === 'object') return { M: Object.fromEntries(Object.entries(v.M).map(([k, x]) => [k, fix(x as Record<string, unknown>)])) };
    if (Array.isArray(v.L)) return { L: v.L.map((x) => fix(x as Record<string, unknown>)) };
    return v;
  };
  return Object.fromEntries(Object.entries(image).map(([k, v]) => [k, fix(v as Record<string, unknown>)])) as Record<string, AttributeValue>;
}

/** The lane of a record: a hash of its partition key (records of one key share a lane, so keep their order). */
export function laneOf(record: DynamoDBRecord, lanes: number): number {
  if (lanes <= 1) return 0;
  const key = JSON.stringify(record.dynamodb?.Keys?.pk ?? record.dynamodb?.Keys ?? '');
  let h = 2166136261;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619);
  return (h >>> 0) % lanes;
}
