import type { AppDeps } from '../context.js';
import { type IngestResult, ingestBatch } from './service.js';

// In-process ingest for records built inside driftwatch (the coming inference endpoint logs its own
// predictions). Records go through exactly the path HTTP ingest takes — validation, idempotency,
// aggregation, rejections kept with their reasons — but are written behind: collected for a few
// milliseconds (or until a batch is full) and stored in one transaction, so the caller never waits for
// an fsync. Nor does the event loop: the flush commits with deferred durability (no fsync at COMMIT on
// SQLite, whose fsync would block every request for as long as the disk takes), and it works in short
// slices with a turn for the event loop between them (SQLite calls are synchronous on this thread).
// What a crash of the process can lose: the records submitted since the last flush (at most `maxDelayMs`
// worth, or `maxRecords`), which were never acknowledged to anyone as stored. A crash of the machine can
// also lose flushes committed since the last fsync (the next HTTP ingest commit or WAL checkpoint).

export interface BatcherOptions {
  /** Flush once this many records are waiting. */
  maxRecords?: number;
  /** Flush at the latest this long after the first waiting record. */
  maxDelayMs?: number;
  /** Records waiting (queued and being flushed) beyond which submit() refuses: memory stays bounded when the store is slow. */
  maxPending?: number;
}

export interface BatcherStats {
  submitted: number;
  flushes: number;
  accepted: number;
  duplicates: number;
  rejected: number;
  /** Flushes that failed as a whole (the store refused); their records are counted here. */
  failed: number;
  /** Records refused by submit() because maxPending were already waiting. */
  refused: number;
}

export class IngestBatcher {
  private queue: unknown[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private closed = false;
  readonly stats: BatcherStats = {
    submitted: 0,
    flushes: 0,
    accepted: 0,
    duplicates: 0,
    rejected: 0,
    failed: 0,
    refused: 0,
  };
  private pending = 0;
  private readonly maxPending: number;
  private readonly maxRecords: number;
  private readonly maxDelayMs: number;

  constructor(
    private readonly deps: Pick<AppDeps, 'store' | 'config' | 'clock' | 'log' | 'metrics'>,
    options: BatcherOptions = {},
    /** Where each flush's outcome goes (rejections are also stored, as for HTTP ingest). */
    private readonly onFlush?: (result: IngestResult) => void,
  ) {
    this.maxRecords = options.maxRecords ?? 500;
    this.maxDelayMs = options.maxDelayMs ?? 5;
    this.maxPending = options.maxPending ?? 50_000;
  }

  /**
   * Queues one record (the HTTP envelope: model, request_id, features, …) and returns at once: true when
   * queued, false when maxPending records are already waiting (the record is not kept; counted as refused).
   */
  submit(record: unknown): boolean {
    if (this.closed) throw new Error('the ingest batcher is closed');
    if (this.pending >= this.maxPending) {
      this.stats.refused++;
      return false;
    }
    this.pending++;
    this.queue.push(record);
    this.stats.submitted++;
    // A full batch is taken at once, so later records start the next one.
    if (this.queue.length >= this.maxRecords) void this.flush();
    else if (!this.timer) this.flushSoon(this.maxDelayMs);
    return true;
  }

  private flushSoon(delay: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, delay);
  }

  /** Stores everything waiting now; resolves when it is committed. Flushes run one after another. */
  flush(): Promise<void> {
    const batch = this.queue;
    this.queue = [];
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (batch.length === 0) return this.flushing;
    this.flushing = this.flushing.then(async () => {
      try {
        const result = await ingestBatch(
          this.deps,
          {
            positionKind: 'index',
            items: batch.map((value, position) => ({ position, value })),
            // Serialised only for a record that is rejected, not for each one.
            rawText: (position) => safeText(batch[position]),
          },
          `in-process-${this.stats.flushes + 1}`,
          // Short slices with a turn for the event loop between them: predict requests arriving during a
          // flush are answered between its steps instead of after all of it.
          { durability: 'deferred', interleave: true },
        );
        this.stats.flushes++;
        this.stats.accepted += result.accepted;
        this.stats.duplicates += result.duplicates;
        this.stats.rejected += result.rejected.length;
        this.onFlush?.(result);
      } catch (err) {
        this.stats.failed += batch.length;
        this.deps.log.error({ err, records: batch.length }, 'in-process ingest flush failed');
      } finally {
        this.pending -= batch.length;
      }
    });
    return this.flushing;
  }

  /** Flushes what is waiting and refuses further records. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }
}

function safeText(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return '(not kept: the value could not be serialised)';
  }
}
