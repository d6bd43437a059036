import { bigint, customType } from 'drizzle-orm/pg-core';

/** Milliseconds since the epoch and other counters that outgrow 32 bits: bigint read back as a JS number. */
export const ms = (name: string) => bigint(name, { mode: 'number' });

/** Little-endian uint32 count vectors, the same bytes the SQLite store keeps in a blob. */
export const bytea = customType<{ data: Buffer; driverData: Buffer }>({
  dataType: () => 'bytea',
});
