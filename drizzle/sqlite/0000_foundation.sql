CREATE TABLE `model_versions` (
	`model` text NOT NULL,
	`model_version` text NOT NULL,
	`record_count` integer NOT NULL,
	`first_ts` integer NOT NULL,
	`last_ts` integer NOT NULL,
	`first_received_at` integer NOT NULL,
	`last_received_at` integer NOT NULL,
	PRIMARY KEY(`model`, `model_version`)
);
--> statement-breakpoint
CREATE TABLE `records` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`model` text NOT NULL,
	`model_version` text DEFAULT '' NOT NULL,
	`request_id` text NOT NULL,
	`ts` integer NOT NULL,
	`received_at` integer NOT NULL,
	`features` text NOT NULL,
	`prediction` text,
	`label` text,
	`latency_ms` real,
	`status` text,
	`error` text,
	`tags` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `records_model_request_id` ON `records` (`model`,`request_id`);--> statement-breakpoint
CREATE INDEX `records_model_ts` ON `records` (`model`,`ts`);--> statement-breakpoint
CREATE INDEX `records_received_at` ON `records` (`received_at`);--> statement-breakpoint
CREATE TABLE `rejections` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`received_at` integer NOT NULL,
	`ingest_request_id` text NOT NULL,
	`model` text,
	`request_id` text,
	`position_kind` text NOT NULL,
	`position` integer NOT NULL,
	`errors` text NOT NULL,
	`raw` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `rejections_received_at` ON `rejections` (`received_at`);--> statement-breakpoint
CREATE INDEX `rejections_model` ON `rejections` (`model`);