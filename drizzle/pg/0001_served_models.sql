CREATE TABLE "model_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"model" text NOT NULL,
	"at" bigint NOT NULL,
	"actor" text NOT NULL,
	"action" text NOT NULL,
	"from_version" text,
	"to_version" text,
	"note" text
);
--> statement-breakpoint
CREATE TABLE "served_versions" (
	"model" text NOT NULL,
	"version" text NOT NULL,
	"state" text NOT NULL,
	"manifest" text NOT NULL,
	"onnx" "bytea" NOT NULL,
	"sha256" text NOT NULL,
	"size_bytes" bigint NOT NULL,
	"registered_at" bigint NOT NULL,
	"registered_by" text,
	"activated_at" bigint,
	"baseline_id" bigint,
	CONSTRAINT "served_versions_model_version_pk" PRIMARY KEY("model","version")
);
--> statement-breakpoint
CREATE TABLE "shadow_stats" (
	"model" text NOT NULL,
	"active_version" text NOT NULL,
	"shadow_version" text NOT NULL,
	"bucket_start" bigint NOT NULL,
	"bucket_ms" bigint NOT NULL,
	"n" bigint NOT NULL,
	"agree" bigint NOT NULL,
	"abs_diff_sum" double precision NOT NULL,
	"active_latency_sum" double precision NOT NULL,
	"shadow_latency_sum" double precision NOT NULL,
	"errors" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	CONSTRAINT "shadow_stats_model_active_version_shadow_version_bucket_start_bucket_ms_pk" PRIMARY KEY("model","active_version","shadow_version","bucket_start","bucket_ms")
);
--> statement-breakpoint
CREATE INDEX "model_events_model" ON "model_events" USING btree ("model","id");--> statement-breakpoint
CREATE UNIQUE INDEX "served_versions_active" ON "served_versions" USING btree ("model") WHERE state = 'active';