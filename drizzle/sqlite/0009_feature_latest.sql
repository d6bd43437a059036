CREATE TABLE `feature_latest` (
	`model` text NOT NULL,
	`model_version` text NOT NULL,
	`feature` text NOT NULL,
	`psi` real,
	`ks_statistic` real,
	`ks_pvalue` real,
	`drifted` integer,
	`window_kind` text NOT NULL,
	`window_to` integer NOT NULL,
	`evaluated_at` integer NOT NULL,
	PRIMARY KEY(`model`, `model_version`, `feature`)
);
