CREATE TABLE "drift_result_summaries" (
	"drift_result_id" bigint PRIMARY KEY NOT NULL,
	"summary" text NOT NULL
);
--> statement-breakpoint
ALTER TABLE "drift_results" DROP COLUMN "summary";