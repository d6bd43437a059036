CREATE TABLE `pending_events` (
	`model` text NOT NULL,
	`event_id` text NOT NULL,
	`kind` text NOT NULL,
	`received_at` integer NOT NULL,
	`event_time` integer,
	`data` text NOT NULL,
	`attrs` text NOT NULL,
	PRIMARY KEY(`model`, `event_id`)
);
--> statement-breakpoint
CREATE INDEX `pending_events_received_at` ON `pending_events` (`received_at`);