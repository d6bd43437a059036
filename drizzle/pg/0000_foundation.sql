CREATE TABLE "alert_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"alert_id" bigint NOT NULL,
	"at" bigint NOT NULL,
	"actor" text NOT NULL,
	"action" text NOT NULL,
	"from_status" text,
	"to_status" text,
	"note" text,
	"data" text
);
--> statement-breakpoint
CREATE TABLE "alert_evidence" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"alert_id" bigint NOT NULL,
	"drift_result_id" bigint NOT NULL,
	"window_kind" text NOT NULL,
	"window_from" bigint NOT NULL,
	"window_to" bigint NOT NULL,
	"severity" text NOT NULL,
	"measures" text NOT NULL,
	"at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "alerts" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"model" text NOT NULL,
	"model_version" text NOT NULL,
	"feature" text NOT NULL,
	"kind" text NOT NULL,
	"severity" text NOT NULL,
	"status" text NOT NULL,
	"assignee" text,
	"version" integer DEFAULT 1 NOT NULL,
	"recovered_at" bigint,
	"snoozed_until" bigint,
	"decision" text,
	"decision_note" text,
	"evidence_count" integer DEFAULT 0 NOT NULL,
	"first_seen" bigint NOT NULL,
	"last_seen" bigint NOT NULL,
	"peak_psi" double precision,
	"latest" text NOT NULL,
	"peak" text NOT NULL,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	"closed_at" bigint
);
--> statement-breakpoint
CREATE TABLE "deliveries" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"channel" text NOT NULL,
	"event" text NOT NULL,
	"payload" text NOT NULL,
	"status" text NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" bigint NOT NULL,
	"last_error" text,
	"created_at" bigint NOT NULL,
	"delivered_at" bigint
);
--> statement-breakpoint
CREATE TABLE "job_state" (
	"key" text PRIMARY KEY NOT NULL,
	"value" text NOT NULL,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "leases" (
	"name" text PRIMARY KEY NOT NULL,
	"holder" text NOT NULL,
	"expires_at" bigint NOT NULL,
	"acquired_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "retrain_requests" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"model" text NOT NULL,
	"model_version" text NOT NULL,
	"alert_ids" text NOT NULL,
	"requested_by" text NOT NULL,
	"reason" text NOT NULL,
	"status" text NOT NULL,
	"produced_version" text,
	"version" integer DEFAULT 1 NOT NULL,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "threshold_overrides" (
	"model" text NOT NULL,
	"feature" text NOT NULL,
	"psi_warning" double precision,
	"psi_critical" double precision,
	"alpha" double precision,
	"set_by" text NOT NULL,
	"reason" text,
	"updated_at" bigint NOT NULL,
	CONSTRAINT "threshold_overrides_model_feature_pk" PRIMARY KEY("model","feature")
);
--> statement-breakpoint
CREATE TABLE "activations" (
	"model" text PRIMARY KEY NOT NULL,
	"baseline_id" bigint NOT NULL,
	"versions" text NOT NULL,
	"max_record_id" bigint NOT NULL,
	"cursor" bigint DEFAULT 0 NOT NULL,
	"total" bigint NOT NULL,
	"done" bigint DEFAULT 0 NOT NULL,
	"started_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	"started_by" text
);
--> statement-breakpoint
CREATE TABLE "aggregates" (
	"model" text NOT NULL,
	"model_version" text NOT NULL,
	"baseline_id" bigint NOT NULL,
	"bucket_start" bigint NOT NULL,
	"bucket_ms" bigint NOT NULL,
	"role" text NOT NULL,
	"name" text NOT NULL,
	"n" bigint NOT NULL,
	"missing" bigint NOT NULL,
	"type_mismatch" bigint NOT NULL,
	"out_of_range" bigint NOT NULL,
	"unseen" bigint NOT NULL,
	"off_edge" bigint DEFAULT 0 NOT NULL,
	"vmin" double precision,
	"vmax" double precision,
	"counts" "bytea" NOT NULL,
	"updated_at" bigint NOT NULL,
	CONSTRAINT "aggregates_model_model_version_baseline_id_bucket_start_bucket_ms_role_name_pk" PRIMARY KEY("model","model_version","baseline_id","bucket_start","bucket_ms","role","name")
);
--> statement-breakpoint
CREATE TABLE "baseline_columns" (
	"baseline_id" bigint NOT NULL,
	"role" text NOT NULL,
	"name" text NOT NULL,
	"profile" text NOT NULL,
	CONSTRAINT "baseline_columns_baseline_id_role_name_pk" PRIMARY KEY("baseline_id","role","name")
);
--> statement-breakpoint
CREATE TABLE "baselines" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"model" text NOT NULL,
	"model_version" text NOT NULL,
	"sha256" text NOT NULL,
	"row_count" bigint NOT NULL,
	"code_commit" text,
	"notes" text,
	"options" text DEFAULT '{}' NOT NULL,
	"created_at" bigint NOT NULL,
	"created_by" text,
	"activated_at" bigint,
	"active" boolean DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE TABLE "bucket_stats" (
	"model" text NOT NULL,
	"model_version" text NOT NULL,
	"bucket_start" bigint NOT NULL,
	"bucket_ms" bigint NOT NULL,
	"records" bigint NOT NULL,
	"labeled" bigint NOT NULL,
	"classified" bigint NOT NULL,
	"correct" bigint NOT NULL,
	"regressed" bigint NOT NULL,
	"abs_err_sum" double precision NOT NULL,
	"sq_err_sum" double precision NOT NULL,
	"updated_at" bigint NOT NULL,
	CONSTRAINT "bucket_stats_model_model_version_bucket_start_bucket_ms_pk" PRIMARY KEY("model","model_version","bucket_start","bucket_ms")
);
--> statement-breakpoint
CREATE TABLE "changed_buckets" (
	"model" text NOT NULL,
	"model_version" text NOT NULL,
	"bucket_start" bigint NOT NULL,
	"bucket_ms" bigint NOT NULL,
	"seq" bigint DEFAULT 1 NOT NULL,
	"rolled_seq" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "changed_buckets_model_model_version_bucket_start_bucket_ms_pk" PRIMARY KEY("model","model_version","bucket_start","bucket_ms")
);
--> statement-breakpoint
CREATE TABLE "drift_results" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"model" text NOT NULL,
	"model_version" text NOT NULL,
	"baseline_id" bigint NOT NULL,
	"window_kind" text NOT NULL,
	"window_from" bigint NOT NULL,
	"window_to" bigint NOT NULL,
	"n" bigint NOT NULL,
	"drifted" boolean,
	"drifted_share" double precision,
	"result" text NOT NULL,
	"evaluated_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "model_versions" (
	"model" text NOT NULL,
	"model_version" text NOT NULL,
	"record_count" bigint NOT NULL,
	"first_ts" bigint NOT NULL,
	"last_ts" bigint NOT NULL,
	"first_received_at" bigint NOT NULL,
	"last_received_at" bigint NOT NULL,
	CONSTRAINT "model_versions_model_model_version_pk" PRIMARY KEY("model","model_version")
);
--> statement-breakpoint
CREATE TABLE "records" (
	"id" bigserial NOT NULL,
	"model" text NOT NULL,
	"model_version" text DEFAULT '' NOT NULL,
	"request_id" text NOT NULL,
	"ts" bigint NOT NULL,
	"received_at" bigint NOT NULL,
	"received_day" integer NOT NULL,
	"features" text NOT NULL,
	"prediction" text,
	"label" text,
	"latency_ms" double precision,
	"status" text,
	"error" text,
	"tags" text,
	CONSTRAINT "records_id_received_day_pk" PRIMARY KEY("id","received_day")
) PARTITION BY RANGE ("received_day");
--> statement-breakpoint
CREATE TABLE "rejections" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"received_at" bigint NOT NULL,
	"ingest_request_id" text NOT NULL,
	"model" text,
	"request_id" text,
	"position_kind" text NOT NULL,
	"position" integer NOT NULL,
	"errors" text NOT NULL,
	"raw" text NOT NULL
);
--> statement-breakpoint
ALTER TABLE "alert_events" ADD CONSTRAINT "alert_events_alert_id_alerts_id_fk" FOREIGN KEY ("alert_id") REFERENCES "public"."alerts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "alert_evidence" ADD CONSTRAINT "alert_evidence_alert_id_alerts_id_fk" FOREIGN KEY ("alert_id") REFERENCES "public"."alerts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "baseline_columns" ADD CONSTRAINT "baseline_columns_baseline_id_baselines_id_fk" FOREIGN KEY ("baseline_id") REFERENCES "public"."baselines"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "alert_events_alert" ON "alert_events" USING btree ("alert_id","id");--> statement-breakpoint
CREATE INDEX "alert_evidence_alert" ON "alert_evidence" USING btree ("alert_id","window_to");--> statement-breakpoint
CREATE INDEX "alerts_status" ON "alerts" USING btree ("status","model");--> statement-breakpoint
CREATE INDEX "alerts_key" ON "alerts" USING btree ("model","feature","kind","status");--> statement-breakpoint
CREATE UNIQUE INDEX "alerts_open_key" ON "alerts" USING btree ("model","feature","kind") WHERE status <> 'closed';--> statement-breakpoint
CREATE INDEX "deliveries_due" ON "deliveries" USING btree ("status","next_attempt_at");--> statement-breakpoint
CREATE INDEX "baselines_model" ON "baselines" USING btree ("model","model_version");--> statement-breakpoint
CREATE UNIQUE INDEX "drift_results_window" ON "drift_results" USING btree ("model","model_version","baseline_id","window_kind","window_from","window_to");--> statement-breakpoint
CREATE INDEX "drift_results_model_to" ON "drift_results" USING btree ("model","window_to");--> statement-breakpoint
CREATE UNIQUE INDEX "records_model_request_day" ON "records" USING btree ("model","request_id","received_day");--> statement-breakpoint
CREATE INDEX "records_model_ts" ON "records" USING btree ("model","ts");--> statement-breakpoint
CREATE INDEX "rejections_received_at" ON "rejections" USING btree ("received_at");--> statement-breakpoint
CREATE INDEX "rejections_model" ON "rejections" USING btree ("model");--> statement-breakpoint
-- Edited by hand after drizzle-kit generate: records is partitioned by receipt day (above); partitions are
-- created by the store as days come (records_p<day>). The change sequence below orders changes of one
-- changed_buckets row; values are unique, not commit-ordered, and only compared per row.
CREATE SEQUENCE "changes_seq";
