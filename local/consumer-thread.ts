/**
 * Main-thread side of the local stream consumer: starts `consumer.ts` on a
 * worker thread and asks it for its metrics, recent batches and to stop.
 * A thread that dies unexpectedly is restarted, reading the stream from its
 * oldest record: what was already pushed is skipped (the consumer records the
 * version it pushed), what was not is pushed, so a crash loses no change.
 */
import { Worker } from 'node:worker_threads';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import type { DynamoMetrics } from './metrics.ts';

export interface ConsumerConfig {
  endpoint: string;
  tableName: string;
  intervalMs: number;
  /** where the stream checkpoint is persisted (the data directory); undefined: kept in memory only */
  checkpointFile?: string;
  /** where a new thread starts reading: the tip (start-up) or the oldest record (after a crash) */
  from: 'LATEST' | 'TRIM_HORIZON';
}

/** the stream checkpoint's file name in the data directory */
export const STREAM_CHECKPOINT_FILE = 'stream-checkpoint.json';

export type ConsumerRequest = { id: number; op: 'metrics' | 'resetMetrics' | 'recentBatches' | 'stop' };
export type ConsumerReply = { id: number; result?: unknown; error?: string } | { log: string } | { ready: true };

/** how long a stop may take (in-flight batches finish) before the thread is ended anyway */
const STOP_DEADLINE_MS = 10_000;

export class ConsumerThread {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, { ok: (v: unknown) => void; fail: (e: Error) => void }>();
  private seq = 0;
  private stopping = false;
  /** how many times the thread was restarted after dying */
  restarts = 0;

  private constructor(
    private readonly config: Omit<ConsumerConfig, 'from'>,
    private readonly onLog: (line: string) => void,
  ) {}

  /** starts the thread and resolves once its poller reads the stream */
  static async start(config: Omit<ConsumerConfig, 'from'>, onLog: (line: string) => void): Promise<ConsumerThread> {
    const thread = new ConsumerThread(config, onLog);
    await thread.spawn('LATEST');
    return thread;
  }

  private spawn(from: ConsumerConfig['from']): Promise<void> {
    return new Promise((ok, fail) => {
      let ready = false;
      const worker = new Worker(new URL('./consumer-worker.mjs', import.meta.url), {
        workerData: { ...this.config, from } satisfies ConsumerConfig,
        // profiling flags reach the thread; tsx is registered by the entry itself
        execArgv: process.execArgv.filter((a) => a.startsWith('--cpu-prof') || a.startsWith('--heap-prof')),
      });
      this.worker = worker;
      worker.on('message', (msg: ConsumerReply) => {
        if ('log' in msg) this.onLog(msg.log);
        else if ('ready' in msg) {
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
        this.onLog(`[stream] consumer thread exited with ${code}: restarting it, reading the stream from its oldest record`);
        this.spawn('TRIM_HORIZON').catch((err: Error) => this.onLog(`[stream] consumer thread restart failed: ${err.stack}`));
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

  /** DynamoDB requests of the StreamFanout and FanoutChunk functions */
  metrics = () => this.call<DynamoMetrics>('metrics');
  resetMetrics = () => this.call<void>('resetMetrics');
  /** the last batches handed to the stream handler (tests replay them) */
  recentBatches = () => this.call<DynamoDBStreamEvent[]>('recentBatches');

  /** Ends the thread as a crash would (tests: the thread is restarted and no change is lost). */
  async crash(): Promise<void> {
    await this.worker?.terminate();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const worker = this.worker;
    if (!worker) return;
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
  }
}
