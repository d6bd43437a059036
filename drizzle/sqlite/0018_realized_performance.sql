CREATE TABLE `realized_performance` (
	`model` text NOT NULL,
	`model_version` text NOT NULL,
	`bucket_start` integer NOT NULL,
	`bucket_ms` integer NOT NULL,
	`spec` text NOT NULL,
	`rows` integer NOT NULL,
	`sums` blob NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`model`, `model_version`, `bucket_start`, `bucket_ms`, `spec`)
);
