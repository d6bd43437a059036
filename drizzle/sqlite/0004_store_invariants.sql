CREATE TABLE `activations` (
	`model` text PRIMARY KEY NOT NULL,
	`baseline_id` integer NOT NULL,
	`versions` text NOT NULL,
	`max_record_id` integer NOT NULL,
	`cursor` integer DEFAULT 0 NOT NULL,
	`total` integer NOT NULL,
	`done` integer DEFAULT 0 NOT NULL,
	`started_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`started_by` text
);
--> statement-breakpoint
CREATE TABLE `changed_buckets` (
	`model` text NOT NULL,
	`model_version` text NOT NULL,
	`bucket_start` integer NOT NULL,
	`bucket_ms` integer NOT NULL,
	`seq` integer DEFAULT 1 NOT NULL,
	`rolled_seq` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`model`, `model_version`, `bucket_start`, `bucket_ms`)
);
--> statement-breakpoint
CREATE TABLE `leases` (
	`name` text PRIMARY KEY NOT NULL,
	`holder` text NOT NULL,
	`expires_at` integer NOT NULL,
	`acquired_at` integer NOT NULL
);
--> statement-breakpoint
DROP INDEX `aggregates_updated_at`;--> statement-breakpoint
-- Two servers on one file could open the same alert twice: keep the newest in review, close the others
-- (with an audit event) so the unique index can be built.
INSERT INTO `alert_events` (`alert_id`, `at`, `actor`, `action`, `from_status`, `to_status`, `note`, `data`)
SELECT `id`, `updated_at`, 'driftwatch', 'closed', `status`, 'closed', 'duplicate of a newer alert in review (closed by the upgrade)', NULL
FROM `alerts` WHERE `status` <> 'closed' AND `id` NOT IN (SELECT max(`id`) FROM `alerts` WHERE `status` <> 'closed' GROUP BY `model`, `feature`, `kind`);--> statement-breakpoint
UPDATE `alerts` SET `status` = 'closed', `closed_at` = `updated_at`
WHERE `status` <> 'closed' AND `id` NOT IN (SELECT max(`id`) FROM `alerts` WHERE `status` <> 'closed' GROUP BY `model`, `feature`, `kind`);--> statement-breakpoint
CREATE UNIQUE INDEX `alerts_open_key` ON `alerts` (`model`,`feature`,`kind`) WHERE status <> 'closed';--> statement-breakpoint
-- Buckets changed after the old wall-clock watermark are carried over as changed, so no evaluation is lost.
INSERT OR IGNORE INTO `changed_buckets` (`model`, `model_version`, `bucket_start`, `bucket_ms`)
SELECT DISTINCT `model`, `model_version`, `bucket_start`, `bucket_ms` FROM `bucket_stats`
WHERE `updated_at` > coalesce((SELECT CAST(`value` AS INTEGER) FROM `job_state` WHERE `key` = 'drift.watermark'), 0);
