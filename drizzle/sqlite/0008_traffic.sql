CREATE TABLE `traffic` (
	`model` text NOT NULL,
	`model_version` text NOT NULL,
	`bucket_start` integer NOT NULL,
	`bucket_ms` integer NOT NULL,
	`requests` integer NOT NULL,
	`errors` integer NOT NULL,
	`latency_count` integer NOT NULL,
	`latency_sum` real NOT NULL,
	`latency_counts` blob NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`model`, `model_version`, `bucket_start`, `bucket_ms`)
);
