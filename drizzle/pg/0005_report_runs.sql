CREATE TABLE "report_runs" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"schedule" text NOT NULL,
	"slot" bigint NOT NULL,
	"period_from" bigint NOT NULL,
	"period_to" bigint NOT NULL,
	"status" text NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" bigint NOT NULL,
	"message_id" text,
	"error" text,
	"subject" text NOT NULL,
	"html" text NOT NULL,
	"text" text NOT NULL,
	"created_at" bigint NOT NULL,
	"sent_at" bigint
);
--> statement-breakpoint
CREATE UNIQUE INDEX "report_runs_slot" ON "report_runs" USING btree ("schedule","slot");--> statement-breakpoint
CREATE INDEX "report_runs_due" ON "report_runs" USING btree ("status","next_attempt_at");