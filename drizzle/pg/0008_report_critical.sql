DROP INDEX "report_runs_slot";--> statement-breakpoint
ALTER TABLE "report_runs" ADD COLUMN "alert_id" bigint;--> statement-breakpoint
CREATE UNIQUE INDEX "report_runs_alert" ON "report_runs" USING btree ("alert_id");--> statement-breakpoint
CREATE UNIQUE INDEX "report_runs_slot" ON "report_runs" USING btree ("schedule","slot") WHERE alert_id IS NULL;