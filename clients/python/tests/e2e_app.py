"""The README's FastAPI /predict example with its three driftwatch lines, for the end-to-end test.

test/clients/python.test.ts runs it under uvicorn against a real driftwatch (DRIFTWATCH_URL) and reads
the client's counters from GET /stats.
"""

import os

from fastapi import FastAPI
from pydantic import BaseModel

from driftwatch.fastapi import Client, monitor

# The test's tuning: short batches, and retries that give up waiting sooner than the default 10 s.
Client.BACKOFF_MAX = float(os.environ.get("DW_BACKOFF_MAX", "10"))
client = Client(
    os.environ["DRIFTWATCH_URL"],
    batch_size=int(os.environ.get("DW_BATCH_SIZE", "500")),
    flush_interval=float(os.environ.get("DW_FLUSH_INTERVAL", "1")),
    timeout=float(os.environ.get("DW_TIMEOUT", "5")),
)


class Iris(BaseModel):
    sepal_length: float
    sepal_width: float
    petal_length: float
    petal_width: float


app = FastAPI()


@app.post("/predict")
@monitor(client, model="iris")
def predict(item: Iris):
    species = "setosa" if item.petal_length < 2.5 else "versicolor" if item.petal_width < 1.75 else "virginica"
    return {"prediction": species}


@app.get("/stats")
def stats():
    return {
        "queued": client.queued,
        "dropped": client.dropped,
        "requests": client.requests,
        "accepted": client.accepted,
        "duplicates": client.duplicates,
        "rejected": client.rejected,
    }
