CREATE TABLE "ui_sessions" (
	"id_hash" text PRIMARY KEY NOT NULL,
	"token_name" text NOT NULL,
	"token_fingerprint" text NOT NULL,
	"csrf" text NOT NULL,
	"created_at" bigint NOT NULL,
	"expires_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE INDEX "ui_sessions_expiry" ON "ui_sessions" USING btree ("expires_at");