"""driftwatch.fastapi.monitor on FastAPI apps, through a real Client to a fake driftwatch."""

from __future__ import annotations

import logging
import unittest
from typing import Optional

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from pydantic import BaseModel

from driftwatch.fastapi import Client, monitor
from fake_server import FakeDriftwatch

logging.getLogger("driftwatch").addHandler(logging.NullHandler())
logging.getLogger("driftwatch").propagate = False


class Iris(BaseModel):
    sepal_length: float
    petal_width: float
    species_hint: Optional[str] = None


class Meta(BaseModel):
    source: str
    region: str


class MonitorTest(unittest.TestCase):
    def setUp(self) -> None:
        self.server = FakeDriftwatch()
        self.client = Client(self.server.url)

    def tearDown(self) -> None:
        self.client.close(timeout=5)
        self.server.close()

    def records(self) -> list:
        self.assertTrue(self.client.flush(timeout=20))
        return [i for r in self.server.requests if r.path == "/v1/ingest" for i in r.items]

    def test_logs_the_body_as_features_the_prediction_latency_and_the_request_id(self) -> None:
        app = FastAPI()

        @app.post("/predict")
        @monitor(self.client, model="iris", model_version="3", tags={"team": "ml"})
        def predict(item: Iris):
            return {"prediction": "setosa" if item.petal_width < 1 else "virginica", "extra": 1}

        http = TestClient(app)
        given = http.post("/predict", json={"sepal_length": 5.1, "petal_width": 0.2}, headers={"X-Request-Id": "req-1"})
        fresh = http.post("/predict", json={"sepal_length": 6.3, "petal_width": 1.8, "species_hint": "v"})
        self.assertEqual(given.status_code, 200)
        self.assertEqual(given.json(), {"prediction": "setosa", "extra": 1})
        self.assertEqual(given.headers["x-request-id"], "req-1")
        generated = fresh.headers["x-request-id"]
        self.assertRegex(generated, r"^[0-9a-f-]{36}$")

        first, second = self.records()
        self.assertEqual(first["model"], "iris")
        self.assertEqual(first["request_id"], "req-1")
        self.assertEqual(first["features"], {"sepal_length": 5.1, "petal_width": 0.2})
        self.assertEqual(first["prediction"], "setosa")
        self.assertEqual(first["model_version"], "3")
        self.assertEqual(first["status"], "ok")
        self.assertEqual(first["tags"], {"team": "ml"})
        self.assertGreaterEqual(first["latency_ms"], 0)
        self.assertEqual(second["request_id"], generated)
        self.assertEqual(second["features"], {"sepal_length": 6.3, "petal_width": 1.8, "species_hint": "v"})
        self.assertEqual(second["prediction"], "virginica")

    def test_an_error_is_logged_and_re_raised_unchanged(self) -> None:
        app = FastAPI()
        raised: list = []

        @app.post("/predict")
        @monitor(self.client, model="iris")
        async def predict(item: Iris):
            err = HTTPException(status_code=418, detail="no tea", headers={"X-Why": "teapot"})
            raised.append(err)
            raise err

        @app.post("/crash")
        @monitor(self.client, model="iris")
        def crash(item: Iris):
            raise ZeroDivisionError("division by zero")

        http = TestClient(app, raise_server_exceptions=False)
        answer = http.post("/predict", json={"sepal_length": 1, "petal_width": 2}, headers={"X-Request-Id": "e1"})
        self.assertEqual(answer.status_code, 418)
        self.assertEqual(answer.json(), {"detail": "no tea"})
        self.assertEqual(answer.headers["x-why"], "teapot")
        self.assertEqual(http.post("/crash", json={"sepal_length": 1, "petal_width": 2}).status_code, 500)
        with self.assertRaises(ZeroDivisionError):  # the endpoint's own exception, not a wrapper's
            TestClient(app).post("/crash", json={"sepal_length": 1, "petal_width": 2})

        logged = self.records()
        self.assertEqual([r["status"] for r in logged], ["error"] * 3)
        self.assertEqual(logged[0]["request_id"], "e1")
        self.assertEqual(logged[0]["error"], "HTTPException 418: no tea")
        self.assertEqual(logged[1]["error"], "ZeroDivisionError: division by zero")
        self.assertEqual(logged[0]["features"], {"sepal_length": 1, "petal_width": 2})
        self.assertNotIn("prediction", logged[0])

    def test_prediction_field_nested_bodies_query_parameters_and_responses(self) -> None:
        app = FastAPI()

        @app.post("/score")
        @monitor(self.client, model="churn", prediction="score")
        async def score(item: Iris, meta: Meta, request: Request):
            assert request.headers["x-request-id"] == "n1"  # the endpoint's own Request still works
            return JSONResponse({"score": [0.25, 0.75]})

        @app.get("/lookup")
        @monitor(self.client, model="churn", prediction=lambda result: result["p"] * 2)
        def lookup(age: int, plan: str = "free"):
            return {"p": 0.25}

        http = TestClient(app)
        body = {"item": {"sepal_length": 1.0, "petal_width": 2.0}, "meta": {"source": "web", "region": "eu"}}
        answer = http.post("/score", json=body, headers={"X-Request-Id": "n1"})
        self.assertEqual(answer.status_code, 200)
        self.assertEqual(answer.headers["x-request-id"], "n1")
        self.assertEqual(http.get("/lookup?age=41").status_code, 200)

        nested, query = self.records()
        self.assertEqual(
            nested["features"],
            {"item.sepal_length": 1.0, "item.petal_width": 2.0, "meta.source": "web", "meta.region": "eu"},
        )
        self.assertEqual(nested["prediction"], {"0": 0.25, "1": 0.75})  # a list: class probabilities
        self.assertEqual(query["features"], {"age": "41"})
        self.assertEqual(query["prediction"], 0.5)

    def test_the_openapi_schema_shows_only_the_endpoints_own_parameters(self) -> None:
        app = FastAPI()

        @app.post("/predict")
        @monitor(self.client, model="iris")
        def predict(item: Iris, verbose: bool = False) -> dict:
            return {"prediction": 1}

        operation = app.openapi()["paths"]["/predict"]["post"]
        self.assertEqual([p["name"] for p in operation["parameters"]], ["verbose"])
        self.assertIn("requestBody", operation)

    def test_a_failure_to_log_never_fails_the_request(self) -> None:
        app = FastAPI()

        @app.post("/predict")
        @monitor(self.client, model="iris", features=lambda body: 1 / 0)
        def predict(item: Iris):
            return {"prediction": 1}

        with self.assertLogs("driftwatch", "WARNING") as logs:
            answer = TestClient(app).post("/predict", json={"sepal_length": 1, "petal_width": 2})
        self.assertEqual(answer.status_code, 200)
        self.assertIn("could not log request", logs.output[0])


if __name__ == "__main__":
    unittest.main()
