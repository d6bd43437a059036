CREATE TABLE "baseline_comoments" (
	"baseline_id" bigint PRIMARY KEY NOT NULL,
	"standardisation" text NOT NULL,
	"fit" "bytea" NOT NULL,
	"calibration" "bytea" NOT NULL
);
--> statement-breakpoint
CREATE TABLE "comoments" (
	"model" text NOT NULL,
	"model_version" text NOT NULL,
	"baseline_id" bigint NOT NULL,
	"bucket_start" bigint NOT NULL,
	"bucket_ms" bigint NOT NULL,
	"vector" "bytea" NOT NULL,
	"updated_at" bigint NOT NULL,
	CONSTRAINT "comoments_model_model_version_baseline_id_bucket_start_bucket_ms_pk" PRIMARY KEY("model","model_version","baseline_id","bucket_start","bucket_ms")
);
--> statement-breakpoint
CREATE TABLE "cusum_state" (
	"model" text NOT NULL,
	"model_version" text NOT NULL,
	"feature" text NOT NULL,
	"upper" double precision NOT NULL,
	"last_bucket" bigint NOT NULL,
	"path" text NOT NULL,
	"updated_at" bigint NOT NULL,
	CONSTRAINT "cusum_state_model_model_version_feature_pk" PRIMARY KEY("model","model_version","feature")
);
