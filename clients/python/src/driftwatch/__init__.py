"""driftwatch: log model inputs and predictions to a driftwatch service.

    from driftwatch import Client
    client = Client("http://localhost:8080")
    client.log("churn", request_id, features={"age": 41}, prediction=0.83)
"""

from ._client import Client

__all__ = ["Client"]
__version__ = "0.1.0"
