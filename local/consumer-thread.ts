/**
 * Main-thread side of the local stream consumer: starts `consumer.ts` on a
 * worker thread and asks it for its metrics, recent batches and to stop.
 *
 * Like Lambda's event source mapping it keeps the consumer's checkpoint (per
 * shard, the last record handled) outside the consumer: in the data directory
 * when there is one (written atomically as it advances), else in memory. A
 * thread started after a stop, a crash of the thread or a kill of the whole
 * process resumes right after the checkpoint; with none it reads every shard
 * from its oldest record, never from the tip, so no change written after the
 * tables exist is skipped. What it hands over twice (handled after the last
 * checkpoint write) is skipped by the fan-out's own record of pushed versions.
 * The fan-out chunks the thread queued are kept here too until delivered, as
 * SQS keeps them: a replacement thread delivers what the dead one had not.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import type { AssemblyConfig } from './assembly.ts';
import type { Checked, LocalNames } from './iam.ts';
import type { LocalMetricsSnapshot } from './metrics.ts';
import type { StreamCheckpoint } from './stream-poller.ts';
import type { CfnTemplate } from './template.ts';

export interface ConsumerConfig {
  endpoint: string;
  tableName: string;
  intervalMs: number;
  /** where the stream checkpoint is persisted (the data directory); undefined: kept in memory only */
  checkpointFile?: string;
  /** where the thread resumes; none: every shard from its oldest record */
  checkpoint?: StreamCheckpoint;
  /** fan-out chunks a thread that died had queued and not delivered (SQS would still hold them) */
  chunks?: QueuedChunk[];
  /** IAM enforced from this template with these local names (undefined: off) */
  iam?: { template: CfnTemplate; names: LocalNames };
  /** run the functions from the bundles of this CDK assembly (undefined: from the sources) */
  assembly?: AssemblyConfig;
}

/** the local name of the fan-out chunk queue (the end of FANOUT_QUEUE_URL) */
export const CHUNK_QUEUE = 'FanoutChunkQueue';

/** A fan-out chunk in the local queue, as an SQS message: id, body, when it becomes visible. */
export interface QueuedChunk {
  id: string;
  body: string;
  visibleAt: number;
}

/** the stream checkpoint's file name in the data directory */
export const STREAM_CHECKPOINT_FILE = 'stream-checkpoint.json';

export type ConsumerRequest = { id: number; op: 'metrics' | 'resetMetrics' | 'recentBatches' | 'iamChecks' | 'stop' };
export type ConsumerReply =
  | { id: number; result?: unknown; error?: string }
  | { log: string }
  | { ready: true }
  | { checkpoint: StreamCheckpoint }
  | { chunkQueued: QueuedChunk }
  | { chunkDone: string };

/** how long a stop may take (in-flight batches finish) before the thread is ended anyway */
const STOP_DEADLINE_MS = 10_000;
/** checkpoint writes are batched this long (a kill in between only hands some records over again) */
const CHECKPOINT_WRITE_MS = 50;

function readCheckpoint(file: string | undefined): StreamCheckpoint | undefined {
  if (!file) return undefined;
  try {
    const c = JSON.parse(readFileSync(file, 'utf8')) as StreamCheckpoint;
    return typeof c?.streamArn === 'string' && c.shards && typeof c.shards === 'object' ? c : undefined;
  } catch {
    return undefined; // none yet (or unreadable: start from the oldest records, nothing is skipped)
  }
}

export class ConsumerThread {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, { ok: (v: unknown) => void; fail: (e: Error) => void }>();
  private seq = 0;
  private stopping = false;
  /** how many times the thread was restarted after dying */
  restarts = 0;
  /** where the consumer stands (what a new thread resumes from) */
  private checkpoint: StreamCheckpoint | undefined;
  /** chunks queued and not yet delivered (what a new thread takes over) */
  private readonly chunks = new Map<string, QueuedChunk>();
  private saveTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly config: Omit<ConsumerConfig, 'checkpoint'>,
    private readonly onLog: (line: string) => void,
  ) {
    this.checkpoint = readCheckpoint(config.checkpointFile);
  }

  /** starts the thread and resolves once its poller reads the stream */
  static async start(config: Omit<ConsumerConfig, 'checkpoint'>, onLog: (line: string) => void): Promise<ConsumerThread> {
    const thread = new ConsumerThread(config, onLog);
    await thread.spawn();
    return thread;
  }

  /** Persists the checkpoint (atomically: a kill mid-write leaves the previous one). */
  private save(): void {
    clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    const file = this.config.checkpointFile;
    if (!file || !this.checkpoint) return;
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(`${file}.tmp`, JSON.stringify(this.checkpoint));
    renameSync(`${file}.tmp`, file);
  }

  private spawn(): Promise<void> {
    return new Promise((ok, fail) => {
      let ready = false;
      const worker = new Worker(new URL('./consumer-worker.mjs', import.meta.url), {
        workerData: { ...this.config, checkpoint: this.checkpoint, chunks: [...this.chunks.values()] } satisfies ConsumerConfig,
        // profiling flags reach the thread; tsx is registered by the entry itself
        execArgv: process.execArgv.filter((a) => a.startsWith('--cpu-prof') || a.startsWith('--heap-prof')),
      });
      this.worker = worker;
      worker.on('message', (msg: ConsumerReply) => {
        if ('log' in msg) this.onLog(msg.log);
        else if ('chunkQueued' in msg) this.chunks.set(msg.chunkQueued.id, msg.chunkQueued);
        else if ('chunkDone' in msg) this.chunks.delete(msg.chunkDone);
        else if ('checkpoint' in msg) {
          this.checkpoint = msg.checkpoint;
          this.saveTimer ??= setTimeout(() => this.save(), CHECKPOINT_WRITE_MS);
        } else if ('ready' in msg) {
          ready = true;
          ok();
        } else {
          const p = this.pending.get(msg.id);
          this.pending.delete(msg.id);
          if (msg.error) p?.fail(new Error(`stream consumer: ${msg.error}`));
          else p?.ok(msg.result);
        }
      });
      worker.on('error', (err) => this.onLog(`[stream] consumer thread failed: ${err.stack}`));
      worker.on('exit', (code) => {
        if (this.worker === worker) this.worker = undefined;
        for (const p of this.pending.values()) p.fail(new Error('stream consumer thread exited'));
        this.pending.clear();
        if (!ready) return fail(new Error(`stream consumer thread exited with ${code} while starting`));
        if (this.stopping) return;
        this.restarts++;
        this.onLog(`[stream] consumer thread exited with ${code}: restarting it from its checkpoint`);
        this.spawn().catch((err: Error) => this.onLog(`[stream] consumer thread restart failed: ${err.stack}`));
      });
    });
  }

  private call<T>(op: ConsumerRequest['op']): Promise<T> {
    const worker = this.worker;
    if (!worker) return Promise.reject(new Error('stream consumer thread is not running'));
    const id = ++this.seq;
    return new Promise<T>((ok, fail) => {
      this.pending.set(id, { ok: ok as (v: unknown) => void, fail });
      worker.postMessage({ id, op } satisfies ConsumerRequest);
    });
  }

  /** DynamoDB requests and CloudWatch metrics (EMF) of the StreamFanout and FanoutChunk functions */
  metrics = () => this.call<LocalMetricsSnapshot>('metrics');
  resetMetrics = () => this.call<void>('resetMetrics');
  /** the last batches handed to the stream handler (tests replay them) */
  recentBatches = () => this.call<DynamoDBStreamEvent[]>('recentBatches');
  /** the SDK calls of StreamFanout, FanoutChunk and the stream reads checked against IAM */
  iamChecks = () => this.call<Checked[]>('iamChecks');

  /** Ends the thread as a crash would (tests: the thread is restarted and no change is lost). */
  async crash(): Promise<void> {
    await this.worker?.terminate();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const worker = this.worker;
    if (!worker) return this.save();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((ok) => {
      timer = setTimeout(() => {
        this.onLog(`[stream] consumer thread did not stop within ${STOP_DEADLINE_MS / 1000} s: ended`);
        ok();
      }, STOP_DEADLINE_MS);
    });
    await Promise.race([this.call('stop').catch(() => {}), deadline]);
    clearTimeout(timer);
    await worker.terminate();
    this.save();
  }
}
