CREATE TABLE "realized_performance" (
	"model" text NOT NULL,
	"model_version" text NOT NULL,
	"bucket_start" bigint NOT NULL,
	"bucket_ms" bigint NOT NULL,
	"spec" text NOT NULL,
	"rows" bigint NOT NULL,
	"sums" "bytea" NOT NULL,
	"updated_at" bigint NOT NULL,
	CONSTRAINT "realized_performance_model_model_version_bucket_start_bucket_ms_spec_pk" PRIMARY KEY("model","model_version","bucket_start","bucket_ms","spec")
);
