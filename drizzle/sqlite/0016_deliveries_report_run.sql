ALTER TABLE `deliveries` ADD `report_run_id` integer;--> statement-breakpoint
CREATE UNIQUE INDEX `deliveries_report_run` ON `deliveries` (`report_run_id`);