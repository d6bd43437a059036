CREATE TABLE "pending_events" (
	"model" text NOT NULL,
	"event_id" text NOT NULL,
	"kind" text NOT NULL,
	"received_at" bigint NOT NULL,
	"event_time" bigint,
	"data" text NOT NULL,
	"attrs" text NOT NULL,
	CONSTRAINT "pending_events_model_event_id_pk" PRIMARY KEY("model","event_id")
);
--> statement-breakpoint
CREATE INDEX "pending_events_received_at" ON "pending_events" USING btree ("received_at");