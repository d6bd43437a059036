DROP INDEX `report_runs_slot`;--> statement-breakpoint
ALTER TABLE `report_runs` ADD `alert_id` integer;--> statement-breakpoint
CREATE UNIQUE INDEX `report_runs_alert` ON `report_runs` (`alert_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `report_runs_slot` ON `report_runs` (`schedule`,`slot`) WHERE alert_id IS NULL;