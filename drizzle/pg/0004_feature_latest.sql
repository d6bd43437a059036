CREATE TABLE "feature_latest" (
	"model" text NOT NULL,
	"model_version" text NOT NULL,
	"feature" text NOT NULL,
	"psi" double precision,
	"ks_statistic" double precision,
	"ks_pvalue" double precision,
	"drifted" boolean,
	"window_kind" text NOT NULL,
	"window_to" bigint NOT NULL,
	"evaluated_at" bigint NOT NULL,
	CONSTRAINT "feature_latest_model_model_version_feature_pk" PRIMARY KEY("model","model_version","feature")
);
