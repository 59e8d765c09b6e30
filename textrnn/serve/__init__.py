"""Serving a trained model over HTTP: ``textrnn serve`` (see docs/serving.md).

`textrnn.serve.protocol` is the API as plain Python (limits, request checks, response rows); it imports
nothing heavy. `textrnn.serve.server` is the LitServe server (needs ``pip install "textrnn[serve]"``):
`serve` runs it, `build_server` builds it, `TextClassifierAPI` is its LitAPI.
"""


class ServerCrashed(RuntimeError):
    """The server stopped without being asked to: a worker failed to load the model, or died."""
