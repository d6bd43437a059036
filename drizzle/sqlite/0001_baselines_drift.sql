CREATE TABLE `aggregates` (
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
	PRIMARY KEY(`model`, `model_version`, `baseline_id`, `bucket_start`, `role`, `name`)
);
--> statement-breakpoint
CREATE INDEX `aggregates_updated_at` ON `aggregates` (`updated_at`);--> statement-breakpoint
CREATE TABLE `baseline_columns` (
	`baseline_id` integer NOT NULL,
	`role` text NOT NULL,
	`name` text NOT NULL,
	`profile` text NOT NULL,
	PRIMARY KEY(`baseline_id`, `role`, `name`),
	FOREIGN KEY (`baseline_id`) REFERENCES `baselines`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `baselines` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`model` text NOT NULL,
	`model_version` text NOT NULL,
	`sha256` text NOT NULL,
	`row_count` integer NOT NULL,
	`code_commit` text,
	`notes` text,
	`created_at` integer NOT NULL,
	`created_by` text,
	`activated_at` integer,
	`active` integer DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE INDEX `baselines_model` ON `baselines` (`model`,`model_version`);--> statement-breakpoint
CREATE TABLE `bucket_stats` (
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
	PRIMARY KEY(`model`, `model_version`, `bucket_start`)
);
--> statement-breakpoint
CREATE TABLE `drift_results` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`model` text NOT NULL,
	`model_version` text NOT NULL,
	`baseline_id` integer NOT NULL,
	`window_kind` text NOT NULL,
	`window_from` integer NOT NULL,
	`window_to` integer NOT NULL,
	`n` integer NOT NULL,
	`drifted` integer,
	`drifted_share` real,
	`result` text NOT NULL,
	`evaluated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `drift_results_window` ON `drift_results` (`model`,`model_version`,`baseline_id`,`window_kind`,`window_from`,`window_to`);--> statement-breakpoint
CREATE INDEX `drift_results_model_to` ON `drift_results` (`model`,`window_to`);--> statement-breakpoint
CREATE TABLE `job_state` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL,
	`updated_at` integer NOT NULL
);
