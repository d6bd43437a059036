CREATE TABLE `drift_feature_results` (
	`drift_result_id` integer NOT NULL,
	`model` text NOT NULL,
	`model_version` text NOT NULL,
	`window_kind` text NOT NULL,
	`window_to` integer NOT NULL,
	`feature` text NOT NULL,
	`psi` real,
	`pvalue_adjusted` real,
	`drifted` integer,
	`severity` text,
	`n` integer NOT NULL,
	`measures` text NOT NULL,
	PRIMARY KEY(`drift_result_id`, `feature`)
);
--> statement-breakpoint
ALTER TABLE `drift_results` ADD `summary` text;