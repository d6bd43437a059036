CREATE TABLE `baseline_comoments` (
	`baseline_id` integer PRIMARY KEY NOT NULL,
	`standardisation` text NOT NULL,
	`fit` blob NOT NULL,
	`calibration` blob NOT NULL
);
--> statement-breakpoint
CREATE TABLE `comoments` (
	`model` text NOT NULL,
	`model_version` text NOT NULL,
	`baseline_id` integer NOT NULL,
	`bucket_start` integer NOT NULL,
	`bucket_ms` integer NOT NULL,
	`vector` blob NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`model`, `model_version`, `baseline_id`, `bucket_start`, `bucket_ms`)
);
--> statement-breakpoint
CREATE TABLE `cusum_state` (
	`model` text NOT NULL,
	`model_version` text NOT NULL,
	`feature` text NOT NULL,
	`upper` real NOT NULL,
	`last_bucket` integer NOT NULL,
	`path` text NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`model`, `model_version`, `feature`)
);
