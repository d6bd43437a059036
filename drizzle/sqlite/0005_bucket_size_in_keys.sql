PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_aggregates` (
	`model` text NOT NULL,
	`model_version` text NOT NULL,
	`baseline_id` integer NOT NULL,
	`bucket_start` integer NOT NULL,
	`bucket_ms` integer NOT NULL,
	`role` text NOT NULL,
	`name` text NOT NULL,
	`n` integer NOT NULL,
	`missing` integer NOT NULL,
	`type_mismatch` integer NOT NULL,
	`out_of_range` integer NOT NULL,
	`unseen` integer NOT NULL,
	`off_edge` integer DEFAULT 0 NOT NULL,
	`vmin` real,
	`vmax` real,
	`counts` blob NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`model`, `model_version`, `baseline_id`, `bucket_start`, `bucket_ms`, `role`, `name`)
);
--> statement-breakpoint
INSERT INTO `__new_aggregates`("model", "model_version", "baseline_id", "bucket_start", "bucket_ms", "role", "name", "n", "missing", "type_mismatch", "out_of_range", "unseen", "off_edge", "vmin", "vmax", "counts", "updated_at") SELECT "model", "model_version", "baseline_id", "bucket_start", "bucket_ms", "role", "name", "n", "missing", "type_mismatch", "out_of_range", "unseen", "off_edge", "vmin", "vmax", "counts", "updated_at" FROM `aggregates`;--> statement-breakpoint
DROP TABLE `aggregates`;--> statement-breakpoint
ALTER TABLE `__new_aggregates` RENAME TO `aggregates`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE TABLE `__new_bucket_stats` (
	`model` text NOT NULL,
	`model_version` text NOT NULL,
	`bucket_start` integer NOT NULL,
	`bucket_ms` integer NOT NULL,
	`records` integer NOT NULL,
	`labeled` integer NOT NULL,
	`classified` integer NOT NULL,
	`correct` integer NOT NULL,
	`regressed` integer NOT NULL,
	`abs_err_sum` real NOT NULL,
	`sq_err_sum` real NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`model`, `model_version`, `bucket_start`, `bucket_ms`)
);
--> statement-breakpoint
INSERT INTO `__new_bucket_stats`("model", "model_version", "bucket_start", "bucket_ms", "records", "labeled", "classified", "correct", "regressed", "abs_err_sum", "sq_err_sum", "updated_at") SELECT "model", "model_version", "bucket_start", "bucket_ms", "records", "labeled", "classified", "correct", "regressed", "abs_err_sum", "sq_err_sum", "updated_at" FROM `bucket_stats`;--> statement-breakpoint
DROP TABLE `bucket_stats`;--> statement-breakpoint
ALTER TABLE `__new_bucket_stats` RENAME TO `bucket_stats`;