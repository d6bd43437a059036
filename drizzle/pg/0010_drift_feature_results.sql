CREATE TABLE "drift_feature_results" (
	"drift_result_id" bigint NOT NULL,
	"model" text NOT NULL,
	"model_version" text NOT NULL,
	"window_kind" text NOT NULL,
	"window_to" bigint NOT NULL,
	"feature" text NOT NULL,
	"psi" double precision,
	"pvalue_adjusted" double precision,
	"drifted" boolean,
	"severity" text,
	"n" bigint NOT NULL,
	"measures" text NOT NULL,
	CONSTRAINT "drift_feature_results_drift_result_id_feature_pk" PRIMARY KEY("drift_result_id","feature")
);
--> statement-breakpoint
ALTER TABLE "drift_results" ADD COLUMN "summary" text;