CREATE TABLE `model_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`model` text NOT NULL,
	`at` integer NOT NULL,
	`actor` text NOT NULL,
	`action` text NOT NULL,
	`from_version` text,
	`to_version` text,
	`note` text
);
--> statement-breakpoint
CREATE INDEX `model_events_model` ON `model_events` (`model`,`id`);--> statement-breakpoint
CREATE TABLE `served_versions` (
	`model` text NOT NULL,
	`version` text NOT NULL,
	`state` text NOT NULL,
	`manifest` text NOT NULL,
	`onnx` blob NOT NULL,
	`sha256` text NOT NULL,
	`size_bytes` integer NOT NULL,
	`registered_at` integer NOT NULL,
	`registered_by` text,
	`activated_at` integer,
	`baseline_id` integer,
	PRIMARY KEY(`model`, `version`)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `served_versions_active` ON `served_versions` (`model`) WHERE state = 'active';--> statement-breakpoint
CREATE TABLE `shadow_stats` (
	`model` text NOT NULL,
	`active_version` text NOT NULL,
	`shadow_version` text NOT NULL,
	`bucket_start` integer NOT NULL,
	`bucket_ms` integer NOT NULL,
	`n` integer NOT NULL,
	`agree` integer NOT NULL,
	`abs_diff_sum` real NOT NULL,
	`active_latency_sum` real NOT NULL,
	`shadow_latency_sum` real NOT NULL,
	`errors` integer NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`model`, `active_version`, `shadow_version`, `bucket_start`, `bucket_ms`)
);
