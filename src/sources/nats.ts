import {
  AckPolicy,
  type Consumer,
  type ConsumerMessages,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { NatsSourceConfig } from '../config.js';
import type { AppDeps, SourceStatusView } from '../context.js';
import { type BatchItem, parseNdjsonBatch } from '../ingest/body.js';
import { ingestBatch } from '../ingest/service.js';

// A NATS JetStream source: a durable pull consumer read in batches. One batch is fetched (bounded in
// messages and bytes), stored through the ingest service in its transactions, and only then acknowledged;
// nothing is fetched while a batch is being stored. A crash between commit and acknowledgement redelivers
// the batch, and idempotent ingest (model, request_id) stores each record once.

/**
 * How long a fetch waits for messages before asking again (and refreshing the lag). Also how long a
 * partial batch may wait for more: the client ends a fetch when it is full or expires. Kept below half
 * the ackWait, or the server would redeliver what the open fetch already holds.
 */
const IDLE_FETCH_MS = 5_000;
/** Follow-up fetches of one batch wait at most this long (the client's minimum). */
const TOP_UP_FETCH_MS = 1_000;
/**
 * Messages the client asks for in a fetch bounded by max_bytes (it sends max_messages and max_bytes
 * exclusively, defaulting the count to 100). The server ends such a request after that many messages but
 * the client waits for the bytes too, so the fetch is ended here once they arrived.
 */
const MESSAGES_PER_BYTES_FETCH = 100;
/** Text kept of a message refused for its size. */
const KEPT_OF_OVERSIZED = 1024;
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 30_000;
const THROUGHPUT_WINDOW_MS = 60_000;

type Deps = Pick<AppDeps, 'store' | 'config' | 'clock' | 'log' | 'metrics'>;

const decoder = new TextDecoder('utf-8', { fatal: true });

/** The records of one message: one JSON value, else NDJSON; refusals carry the reason (positions from 1). */
export async function messageItems(data: Uint8Array, maxBytes: number): Promise<BatchItem[]> {
  if (data.length > maxBytes) {
    const kept = new TextDecoder().decode(data.subarray(0, KEPT_OF_OVERSIZED));
    return [
      {
        position: 1,
        raw: `${kept}… (${data.length} bytes; first ${KEPT_OF_OVERSIZED} kept)`,
        syntaxError: `message of ${data.length} bytes exceeds maxMessageBytes (${maxBytes})`,
      },
    ];
  }
  let text: string;
  try {
    text = decoder.decode(data);
  } catch {
    return [
      {
        position: 1,
        raw: new TextDecoder().decode(data.subarray(0, KEPT_OF_OVERSIZED)),
        syntaxError: 'not valid UTF-8',
      },
    ];
  }
  if (text.trim() === '')
    return [{ position: 1, raw: text, syntaxError: 'empty message: expected a JSON record or NDJSON' }];
  // One record, possibly pretty-printed over several lines; anything else is read line by line.
  try {
    return [{ position: 1, value: JSON.parse(text), raw: text }];
  } catch {
    return (await parseNdjsonBatch(text)).items;
  }
}

/** The URL without user name and password, for status and logs. */
function publicUrl(url: string): string {
  const u = new URL(url);
  u.username = '';
  u.password = '';
  return u.toString().replace(/\/$/, '');
}

const isApiError = (err: unknown, code: number) => err instanceof JetStreamApiError && err.code === code;

export class NatsSource {
  private state: SourceStatusView['state'] = 'standby';
  private run: Promise<void> | null = null;
  private stopRequested = false;
  private nc: NatsConnection | null = null;
  private fetching: ConsumerMessages | null = null;
  private wake: (() => void) | null = null;
  /** Messages fetched beyond `batch` by the last fetch: the first of the next batch. */
  private carried: JsMsg[] = [];
  private lag: number | null = null;
  private readonly counts = {
    delivered: 0,
    acked: 0,
    returned: 0,
    accepted: 0,
    duplicates: 0,
    rejected: 0,
    batches: 0,
    errors: 0,
  };
  private recent: { at: number; messages: number; records: number }[] = [];
  private lastBatchAt: number | null = null;
  private lastError: string | null = null;
  private lastErrorAt: number | null = null;

  constructor(
    private readonly deps: Deps,
    readonly config: NatsSourceConfig,
  ) {}

  get name(): string {
    return this.config.name;
  }

  /** Starts consuming (idempotent); a stop still under way finishes first. */
  start(): void {
    if (this.run && !this.stopRequested) return;
    const previous = this.run ?? Promise.resolve();
    this.stopRequested = false;
    const run: Promise<void> = previous.then(() => (this.stopRequested ? undefined : this.loop()));
    this.run = run.finally(() => {
      if (this.run === run) this.run = null;
    });
  }

  /**
   * Stops consuming: a batch being stored is stored and acknowledged; messages fetched but not stored are
   * handed back (nak) for redelivery. Resolves when the connection is closed.
   */
  async stop(): Promise<void> {
    this.stopRequested = true;
    this.fetching?.stop();
    this.wake?.();
    await this.run;
  }

  private async loop(): Promise<void> {
    const log = this.deps.log.child({ source: this.name });
    let attempt = 0;
    while (!this.stopRequested) {
      try {
        this.state = 'connecting';
        const consumer = await this.open();
        if (this.stopRequested) break;
        this.state = 'consuming';
        log.info({ stream: this.config.stream, durable: this.config.durable }, 'source consuming');
        attempt = 0;
        while (!this.stopRequested) await this.round(consumer);
      } catch (err) {
        // Acknowledgements need the connection the messages came on: what was carried is redelivered.
        this.returnUnstored(this.carried);
        this.carried = [];
        if (this.stopRequested) break;
        this.failed(err);
        const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** attempt++);
        log.error({ err, retry_in_ms: delay }, 'source failed; reconnecting');
        await this.close();
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = null;
      }
    }
    this.state = 'stopping';
    this.returnUnstored(this.carried);
    this.carried = [];
    await this.close();
    this.lag = null;
    this.state = 'standby';
    log.info('source stopped');
  }

  private failed(err: unknown): void {
    this.counts.errors++;
    this.lastError = err instanceof Error ? err.message : String(err);
    this.lastErrorAt = this.deps.clock();
    this.deps.metrics?.sourceError?.(this.name);
  }

  private async close(): Promise<void> {
    const nc = this.nc;
    this.nc = null;
    // drain() sends the acknowledgements still buffered before closing.
    if (nc && !nc.isClosed()) await nc.drain().catch(() => nc.close().catch(() => undefined));
  }

  /** Connects, creates the stream (when allowed) and the durable consumer when missing. */
  private async open(): Promise<Consumer> {
    const c = this.config;
    this.nc = await connect({
      servers: c.url,
      name: `driftwatch ${this.name}`,
      // Reconnects are this source's own loop: a fresh connection, the consumer looked up again.
      reconnect: false,
      timeout: 10_000,
    });
    const jsm = await jetstreamManager(this.nc);
    const streamSubjects = await this.ensureStream(jsm);
    try {
      await jsm.consumers.info(c.stream, c.durable);
    } catch (err) {
      if (!isApiError(err, JetStreamApiCodes.ConsumerNotFound)) throw err;
      // No filter when the stream captures exactly these subjects (several filters need nats-server 2.10).
      const same =
        streamSubjects.length === c.subjects.length && c.subjects.every((s) => streamSubjects.includes(s));
      await jsm.consumers.add(c.stream, {
        durable_name: c.durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: c.ackWait * 1e6,
        // A batch and what the last fetch carried over are unacknowledged at once; no more is ever needed.
        max_ack_pending: Math.max(1_000, c.batch * 2),
        ...(same
          ? {}
          : c.subjects.length === 1
            ? { filter_subject: c.subjects[0] }
            : { filter_subjects: c.subjects }),
      });
      this.deps.log.info(
        { source: this.name, stream: c.stream, durable: c.durable },
        'durable consumer created',
      );
    }
    return jetstream(this.nc).consumers.get(c.stream, c.durable);
  }

  private async ensureStream(jsm: JetStreamManager): Promise<string[]> {
    const c = this.config;
    try {
      return (await jsm.streams.info(c.stream)).config.subjects ?? [];
    } catch (err) {
      if (!isApiError(err, JetStreamApiCodes.StreamNotFound)) throw err;
      if (!c.createStream)
        throw new Error(`stream ${c.stream} does not exist (createStream is false)`, { cause: err });
      // Publishers of larger messages are refused by the server itself.
      await jsm.streams.add({ name: c.stream, subjects: c.subjects, max_msg_size: c.maxMessageBytes });
      this.deps.log.info({ source: this.name, stream: c.stream, subjects: c.subjects }, 'stream created');
      return c.subjects;
    }
  }

  /** One batch: fetch (bounded), store, acknowledge. */
  private async round(consumer: Consumer): Promise<void> {
    const batch = await this.collect(consumer);
    if (batch.length === 0) {
      const info = await consumer.info(false);
      this.lag = info.num_pending + info.num_ack_pending;
      return;
    }
    if (this.stopRequested) {
      this.returnUnstored(batch);
      return;
    }
    try {
      await this.store(batch);
    } catch (err) {
      // Not stored: handed back for redelivery; the loop reconnects after a pause.
      this.returnUnstored(batch);
      throw err;
    }
    for (const m of batch) m.ack();
    this.counts.acked += batch.length;
    const last = batch[batch.length - 1] as JsMsg;
    this.lag = last.info.pending + this.carried.length;
  }

  /** Up to `batch` messages and `batchBytes` bytes in memory (with what the previous fetch carried over). */
  private async collect(consumer: Consumer): Promise<JsMsg[]> {
    const { batch, batchBytes } = this.config;
    const msgs = this.carried.splice(0, batch);
    let bytes = 0;
    for (const m of [...msgs, ...this.carried]) bytes += m.data.length;
    try {
      while (!this.stopRequested && msgs.length < batch && bytes < batchBytes) {
        const got = await this.fetchInto(consumer, msgs, batchBytes - bytes, msgs.length === 0);
        bytes += got.bytes;
        // Nothing more waiting: store what there is rather than wait for a full batch.
        if (got.messages === 0 || !got.more) break;
      }
    } catch (err) {
      // Handed back by the loop with what was carried.
      this.carried.unshift(...msgs);
      throw err;
    }
    return msgs;
  }

  /** One fetch of at most `maxBytes` into `msgs` (beyond `batch`: carried to the next batch). */
  private async fetchInto(
    consumer: Consumer,
    msgs: JsMsg[],
    maxBytes: number,
    idle: boolean,
  ): Promise<{ messages: number; bytes: number; more: boolean }> {
    const iter = await consumer.fetch({
      max_bytes: maxBytes,
      expires: idle ? IDLE_FETCH_MS : TOP_UP_FETCH_MS,
    });
    this.fetching = iter;
    if (this.stopRequested) iter.stop();
    const got = { messages: 0, bytes: 0, more: true };
    try {
      for await (const m of iter) {
        got.messages++;
        got.bytes += m.data.length;
        this.counts.delivered++;
        // A redelivery of a message this batch already holds (it outlived ackWait): one copy is stored.
        const held = msgs.findIndex((x) => x.seq === m.seq);
        if (held !== -1) msgs[held] = m;
        else if (msgs.length < this.config.batch) msgs.push(m);
        else this.carried.push(m);
        got.more = m.info.pending > 0;
        if (got.messages >= MESSAGES_PER_BYTES_FETCH) iter.stop();
      }
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      // The server ended the request without a status the client recognises: what arrived is complete.
      if (got.messages > 0 && /heartbeats missed/i.test(message)) return got;
      // A head message larger than the fetch's max_bytes is never sent (409) and would stall the
      // consumer: it is taken alone (bounded by the server's max_payload) and refused for its size.
      if (got.messages > 0 || !/exceeds maxbytes/i.test(message)) throw err;
      const m = await consumer.next({ expires: TOP_UP_FETCH_MS });
      if (m) {
        this.counts.delivered++;
        msgs.push(m);
        return { messages: 1, bytes: m.data.length, more: m.info.pending > 0 };
      }
    } finally {
      this.fetching = null;
    }
    return got;
  }

  private returnUnstored(msgs: readonly JsMsg[]): void {
    if (msgs.length === 0) return;
    if (this.nc && !this.nc.isClosed()) for (const m of msgs) m.nak();
    this.counts.returned += msgs.length;
  }

  /** The batch's records in one ingest call (its transactions), bad messages as rejections. */
  private async store(batch: readonly JsMsg[]): Promise<void> {
    const items: BatchItem[] = [];
    for (const m of batch) {
      for (const item of await messageItems(m.data, this.config.maxMessageBytes)) {
        items.push({ ...item, position: items.length + 1 } as BatchItem);
      }
    }
    const first = (batch[0] as JsMsg).seq;
    const last = (batch[batch.length - 1] as JsMsg).seq;
    // Rejections name the stream sequences of the batch; `line` numbers its records in stream order.
    const result = await ingestBatch(
      this.deps,
      { positionKind: 'line', items, fromJsonParse: true },
      `nats:${this.name}:${first}-${last}`,
    );
    const now = this.deps.clock();
    this.counts.batches++;
    this.counts.accepted += result.accepted;
    this.counts.duplicates += result.duplicates;
    this.counts.rejected += result.rejected.length;
    this.lastBatchAt = now;
    this.recent.push({ at: now, messages: batch.length, records: items.length });
    this.deps.metrics?.sourceBatch?.(this.name, {
      messages: batch.length,
      accepted: result.accepted,
      duplicates: result.duplicates,
      rejected: result.rejected.length,
    });
  }

  /** The lag as last seen while consuming (null when not consuming). */
  currentLag(): number | null {
    return this.state === 'consuming' ? this.lag : null;
  }

  status(): SourceStatusView {
    const now = this.deps.clock();
    this.recent = this.recent.filter((r) => now - r.at < THROUGHPUT_WINDOW_MS);
    const sum = (k: 'messages' | 'records') => this.recent.reduce((n, r) => n + r[k], 0);
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    const c = this.counts;
    return {
      name: this.name,
      kind: 'nats',
      url: publicUrl(this.config.url),
      stream: this.config.stream,
      durable: this.config.durable,
      state: this.state,
      lag: this.currentLag(),
      delivered: c.delivered,
      acked: c.acked,
      returned: c.returned,
      records: { accepted: c.accepted, duplicates: c.duplicates, rejected: c.rejected },
      throughput: {
        messages_per_s: Math.round((sum('messages') / (THROUGHPUT_WINDOW_MS / 1000)) * 100) / 100,
        records_per_s: Math.round((sum('records') / (THROUGHPUT_WINDOW_MS / 1000)) * 100) / 100,
      },
      batches: c.batches,
      errors: c.errors,
      last_batch_at: iso(this.lastBatchAt),
      last_error: this.lastError,
      last_error_at: iso(this.lastErrorAt),
    };
  }
}
