CREATE TABLE "traffic" (
	"model" text NOT NULL,
	"model_version" text NOT NULL,
	"bucket_start" bigint NOT NULL,
	"bucket_ms" bigint NOT NULL,
	"requests" bigint NOT NULL,
	"errors" bigint NOT NULL,
	"latency_count" bigint NOT NULL,
	"latency_sum" double precision NOT NULL,
	"latency_counts" "bytea" NOT NULL,
	"updated_at" bigint NOT NULL,
	CONSTRAINT "traffic_model_model_version_bucket_start_bucket_ms_pk" PRIMARY KEY("model","model_version","bucket_start","bucket_ms")
);
