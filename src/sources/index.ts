import type { AppDeps, SourceStatusView, SourcesView } from '../context.js';
import { NatsSource } from './nats.js';

export { messageItems, NatsSource } from './nats.js';

/**
 * The configured log sources of this process. They follow the job leadership: consuming while this
 * process leads, standing by otherwise, so a fleet reads each stream once (a deposed leader finishes the
 * batch it is storing, which idempotent ingest makes harmless).
 */
export class Sources implements SourcesView {
  readonly nats: NatsSource[];

  constructor(deps: Pick<AppDeps, 'store' | 'config' | 'clock' | 'log' | 'metrics'>) {
    this.nats = deps.config.sources.nats.map((c) => new NatsSource(deps, c));
  }

  /** Starts or stops every source as this process gains or loses the leadership. */
  leadership(leader: boolean): void {
    for (const s of this.nats) {
      if (leader) s.start();
      else void s.stop();
    }
  }

  status(): SourceStatusView[] {
    return this.nats.map((s) => s.status());
  }

  /** Stops every source: batches being stored are acknowledged, the rest handed back. */
  async stop(): Promise<void> {
    await Promise.all(this.nats.map((s) => s.stop()));
  }
}
