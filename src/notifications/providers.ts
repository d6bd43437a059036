import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ChannelConfig } from '../config/index.js';
import type { DeliveryRow } from '../store/index.js';

// The channels behind the one outbox. A provider sends one delivery and answers with its outcome; the
// delivery loop (service.ts) claims, retries with the provider's backoff and records outcomes for all alike.

/** The channel of email deliveries (report runs and critical-alert mails); no configured channel may take it. */
export const EMAIL_CHANNEL = 'email';

/** `permanent`: retrying cannot help (the channel or schedule is gone), so the delivery fails at once. */
export type Outcome = { ok: true; receipt?: string } | { ok: false; error: string; permanent?: boolean };

export interface Provider {
  type: 'webhook' | 'slack' | 'alertmanager' | 'email';
  /** Attempts before a delivery is marked failed. */
  maxAttempts: number;
  /** Delay before the next attempt after `attempts` failed ones. */
  backoffMs(attempts: number): number;
  /** One attempt; never rejects (a failure is an outcome). `now` is the attempt's time. */
  send(row: DeliveryRow, now: number): Promise<Outcome>;
}

const BACKOFF_BASE_MS = 5_000;
const BACKOFF_MAX_MS = 3_600_000;
const ERROR_BODY_CHARS = 200;

/** Delay before the next attempt after `attempts` failed ones: 5 s, 10 s, 20 s, … capped at 1 h. */
export function backoffMs(attempts: number): number {
  return Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, attempts - 1));
}

/**
 * Webhook signature scheme, for receivers:
 *   X-Driftwatch-Timestamp: <unix seconds when sent>
 *   X-Driftwatch-Signature: sha256=<hex HMAC-SHA256 keyed with the channel secret over `${timestamp}.${body}`>
 * where body is the raw request body bytes (UTF-8 JSON) exactly as received, before any parsing.
 * Compare in constant time, and reject timestamps far from your clock (e.g. more than 5 minutes) so a
 * captured request cannot be replayed; X-Driftwatch-Delivery is a stable id for de-duplicating retries.
 * Returns the full header value, `sha256=<hex>`.
 */
export function signPayload(secret: string, timestamp: number | string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** Checks an X-Driftwatch-Signature header value in constant time (see signPayload for the scheme). */
export function verifySignature(
  secret: string,
  timestamp: number | string,
  body: string,
  header: string | null | undefined,
): boolean {
  if (!header) return false;
  const expected = Buffer.from(signPayload(secret, timestamp, body));
  const given = Buffer.from(header.trim());
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function targetUrl(channel: ChannelConfig): string {
  return channel.type === 'alertmanager' ? `${channel.url.replace(/\/+$/, '')}/api/v2/alerts` : channel.url;
}

function networkError(err: unknown, timeoutMs: number): string {
  if (err instanceof Error) {
    if (err.name === 'TimeoutError' || err.name === 'AbortError') return `timed out after ${timeoutMs} ms`;
    // undici reports "fetch failed" and puts the reason (ECONNREFUSED, ENOTFOUND, …) in cause.
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const detail = cause?.code ?? cause?.message;
    return detail ? `${err.message}: ${detail}` : err.message;
  }
  return String(err);
}

/** A configured webhook, Slack or Alertmanager channel: the delivery's payload POSTed as JSON. */
export function httpProvider(
  channel: ChannelConfig,
  options: { timeoutMs: number; maxAttempts: number },
): Provider {
  const { timeoutMs } = options;
  return {
    type: channel.type,
    maxAttempts: options.maxAttempts,
    backoffMs,
    async send(row, now) {
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'user-agent': 'driftwatch',
      };
      if (channel.type === 'webhook') {
        const timestamp = Math.floor(now / 1000);
        headers['x-driftwatch-event'] = row.event;
        headers['x-driftwatch-delivery'] = String(row.id);
        headers['x-driftwatch-timestamp'] = String(timestamp);
        if (channel.secret)
          headers['x-driftwatch-signature'] = signPayload(channel.secret, timestamp, row.payload);
      }
      try {
        const res = await fetch(targetUrl(channel), {
          method: 'POST',
          headers,
          body: row.payload,
          // A redirect is a misconfigured URL, not a success; do not re-post the body elsewhere.
          redirect: 'manual',
          signal: AbortSignal.timeout(timeoutMs),
        });
        if (res.status >= 200 && res.status < 300) {
          await res.body?.cancel().catch(() => {});
          return { ok: true };
        }
        let text = '';
        try {
          text = (await res.text()).replace(/\s+/g, ' ').trim().slice(0, ERROR_BODY_CHARS);
        } catch {
          // The status is the useful part; a body that cannot be read within the timeout adds nothing.
        }
        return { ok: false, error: `HTTP ${res.status}${text ? `: ${text}` : ''}` };
      } catch (err) {
        return { ok: false, error: networkError(err, timeoutMs) };
      }
    },
  };
}
