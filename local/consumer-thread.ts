/**
 * Main-thread side of the local stream consumer: starts `consumer.ts` on a
 * worker thread and asks it for its metrics, recent batches and to stop.
 */
import { Worker } from 'node:worker_threads';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import type { DynamoMetrics } from './metrics.ts';
import type { StreamPoller } from './stream-poller.ts';

export interface ConsumerConfig {
  endpoint: string;
  tableName: string;
  intervalMs: number;
}

export type ConsumerRequest = { id: number; op: 'metrics' | 'resetMetrics' | 'recentBatches' | 'stats' | 'stop' };
export type ConsumerReply = { id: number; result?: unknown; error?: string } | { log: string } | { ready: true };

export class ConsumerThread {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { ok: (v: unknown) => void; fail: (e: Error) => void }>();
  private seq = 0;
  private exited = false;
  private stopping = false;

  private constructor(config: ConsumerConfig, onLog: (line: string) => void, ready: (err?: Error) => void) {
    this.worker = new Worker(new URL('./consumer-worker.mjs', import.meta.url), {
      workerData: config,
      // profiling flags reach the thread; tsx is registered by the entry itself
      execArgv: process.execArgv.filter((a) => a.startsWith('--cpu-prof') || a.startsWith('--heap-prof')),
    });
    this.worker.on('message', (msg: ConsumerReply) => {
      if ('log' in msg) onLog(msg.log);
      else if ('ready' in msg) ready();
      else {
        const p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        if (msg.error) p?.fail(new Error(`stream consumer: ${msg.error}`));
        else p?.ok(msg.result);
      }
    });
    this.worker.on('error', (err) => {
      onLog(`[stream] consumer thread failed: ${err.stack}`);
      ready(err);
    });
    this.worker.on('exit', (code) => {
      this.exited = true;
      if (!this.stopping) onLog(`[stream] consumer thread exited with ${code}`);
      for (const p of this.pending.values()) p.fail(new Error('stream consumer thread exited'));
      this.pending.clear();
      ready(new Error(`stream consumer thread exited with ${code}`));
    });
  }

  /** starts the thread and resolves once its poller reads the stream */
  static start(config: ConsumerConfig, onLog: (line: string) => void): Promise<ConsumerThread> {
    return new Promise((ok, fail) => {
      let settled = false;
      const thread: ConsumerThread = new ConsumerThread(config, onLog, (err) => {
        if (settled) return;
        settled = true;
        if (err) fail(err);
        else ok(thread);
      });
    });
  }

  private call<T>(op: ConsumerRequest['op']): Promise<T> {
    if (this.exited) return Promise.reject(new Error('stream consumer thread exited'));
    const id = ++this.seq;
    return new Promise<T>((ok, fail) => {
      this.pending.set(id, { ok: ok as (v: unknown) => void, fail });
      this.worker.postMessage({ id, op } satisfies ConsumerRequest);
    });
  }

  /** DynamoDB requests of the StreamFanout and FanoutChunk functions */
  metrics = () => this.call<DynamoMetrics>('metrics');
  resetMetrics = () => this.call<void>('resetMetrics');
  /** the last batches handed to the stream handler (tests replay them) */
  recentBatches = () => this.call<DynamoDBStreamEvent[]>('recentBatches');
  stats = () => this.call<StreamPoller['stats']>('stats');

  async stop(): Promise<void> {
    if (this.exited) return;
    await this.call('stop').catch(() => {});
    this.stopping = true; // what the thread had to do is done: end it
    await this.worker.terminate();
  }
}
