ALTER TABLE "deliveries" ADD COLUMN "report_run_id" bigint;--> statement-breakpoint
CREATE UNIQUE INDEX "deliveries_report_run" ON "deliveries" USING btree ("report_run_id");