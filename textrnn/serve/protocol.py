"""The HTTP API of ``textrnn serve`` as plain Python: request limits, request checks and response rows.

Nothing here imports LitServe, torch or a web framework, so the rules can be read and tested alone.

Request (``POST /predict``, a UTF-8 JSON object, whatever its Content-Type)::

    {"text": "one text"}            or            {"texts": ["a text", "another", ...]}

Response (``200``)::

    {"predictions": [{"index": 0, "label": "sport", "confidence": 0.97, "prob_business": 0.01, ...}, ...]}

one row per text, in request order, with the fields of ``textrnn classify``'s output rows except the
text itself (the client has it): ``index``, ``label``, ``confidence`` and one ``prob_<class>`` per class.
The rows are built from the fields of `textrnn.inference.classifier.Prediction` (`prediction_row`), so a
field added to it (a multi-label ``labels`` list, say) is served under its own name with no change here.

Every bad request is a `RequestError`: an HTTP status and one line that names the problem, sent as
``{"error": "..."}``:

* ``400``: the body is not UTF-8, not JSON, or nested too deeply to parse;
* ``413``: the body is larger than ``Limits.max_request_bytes``, or holds more than ``Limits.max_texts`` texts;
* ``422``: valid JSON of the wrong shape: not an object, an unknown or missing field, both fields, a
  text that is not a string, an empty list, a control character other than tab, newline and carriage
  return (or a lone surrogate, which is not text).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

FIELDS = ("text", "texts")
DEFAULT_MAX_REQUEST_BYTES = 1_048_576  # 1 MiB: a long news article is ~20 KB; a 10 MB body is refused unread
DEFAULT_MAX_TEXTS = 256  # texts per request; more is a 413 (send several requests, they are batched anyway)
# C0 controls but tab, newline and carriage return; DEL; C1 controls; lone surrogates (from "\ud800" escapes)
FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
PROB_FIELD = "probs"  # the Prediction field flattened into prob_<class> columns, as classify writes them


class RequestError(ValueError):
    """A request the server refuses: ``status`` (4xx) and a one-line ``message`` naming the problem."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def payload(self) -> dict[str, str]:
        """The JSON body of the error response."""
        return {"error": self.message}


@dataclass(frozen=True)
class Limits:
    """What one request may hold.

    Attributes:
        max_request_bytes: the largest body read, in bytes; a larger one is refused (413) before it is read
            when its Content-Length says so, else as soon as the bytes read pass the limit.
        max_texts: the most texts one ``{"texts": [...]}`` request may hold (413 above).
    """

    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    max_texts: int = DEFAULT_MAX_TEXTS

    def __post_init__(self) -> None:
        for name in ("max_request_bytes", "max_texts"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


def _kind(value: object) -> str:
    """The JSON name of a parsed value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def parse_json(body: bytes) -> Any:
    """The JSON value of a request body; `RequestError` 400 if it is not UTF-8 or not JSON."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise RequestError(400, f"the request body is not valid UTF-8 (byte 0x{body[err.start]:02x} at offset "
                                f"{err.start}); send JSON encoded as UTF-8") from None
    if not text.strip():
        raise RequestError(400, 'the request body is empty; send a JSON object such as {"text": "..."}')
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise RequestError(400, f"the request body is not valid JSON: {err.msg} at line {err.lineno} column "
                                f"{err.colno} (offset {err.pos})") from None
    except RecursionError:
        raise RequestError(400, "the request body is not valid JSON for this server: it is nested too deeply") from None
    except ValueError as err:  # e.g. an integer of more digits than Python converts
        raise RequestError(400, f"the request body is not valid JSON for this server: {err}") from None


def _check_text(text: object, where: str) -> str:
    if not isinstance(text, str):
        raise RequestError(422, f"{where} must be a string, got {_kind(text)}")
    bad = FORBIDDEN.search(text)
    if bad is not None:
        char = bad.group()
        raise RequestError(422, f"{where} holds the control character U+{ord(char):04X} at position {bad.start()}; "
                                "texts may hold tab, newline and carriage return but no other control character "
                                "or lone surrogate")
    return text


def parse_payload(payload: Any, limits: Limits = Limits()) -> list[str]:
    """The texts of a parsed request: ``{"text": str}`` gives one, ``{"texts": [str, ...]}`` gives the list.

    Raises:
        RequestError: 413 for more than ``limits.max_texts`` texts, 422 for any other shape (see the module).
    """
    if not isinstance(payload, Mapping):
        raise RequestError(422, f'the request must be a JSON object with "text" or "texts", got {_kind(payload)}')
    unknown = [str(key) for key in payload if key not in FIELDS]
    if unknown:
        names = ", ".join(repr(name[:40]) for name in unknown[:5])
        raise RequestError(422, f"unknown field{'s' if len(unknown) > 1 else ''} {names}; valid fields: "
                                '"text" (one string) or "texts" (a list of strings)')
    if "text" in payload and "texts" in payload:
        raise RequestError(422, 'give "text" (one string) or "texts" (a list of strings), not both')
    if "text" in payload:
        return [_check_text(payload["text"], '"text"')]
    if "texts" not in payload:
        raise RequestError(422, 'missing field: give "text" (one string) or "texts" (a list of strings)')
    texts = payload["texts"]
    if not isinstance(texts, list):
        raise RequestError(422, f'"texts" must be a list of strings, got {_kind(texts)}')
    if not texts:
        raise RequestError(422, '"texts" is an empty list; give at least one text')
    if len(texts) > limits.max_texts:
        raise RequestError(413, f'"texts" holds {len(texts)} texts, more than this server takes in one request '
                                f"({limits.max_texts}, --max_texts); split them over several requests")
    return [_check_text(text, f'"texts"[{i}]') for i, text in enumerate(texts)]


def parse_body(body: bytes, limits: Limits = Limits()) -> list[str]:
    """The texts of a raw request body (`parse_json`, then `parse_payload`)."""
    if len(body) > limits.max_request_bytes:
        raise too_large(len(body), limits)
    return parse_payload(parse_json(body), limits)


def too_large(size: Optional[int], limits: Limits) -> RequestError:
    """The 413 for a body of ``size`` bytes (None: unknown, but past the limit already)."""
    what = f"{size:,} bytes" if size is not None else f"more than {limits.max_request_bytes:,} bytes"
    return RequestError(413, f"the request body is {what}, more than this server reads "
                             f"({limits.max_request_bytes:,} bytes, --max_request_bytes)")


def prediction_row(prediction: Any, index: int, multi_label: bool = True) -> dict[str, Any]:
    """One response row: ``index``, then every field of the prediction dataclass under its own name, except
    ``probs``, which becomes one ``prob_<class>`` per class (as in ``textrnn classify``'s rows), and, for a
    single-label model (``multi_label`` False), ``labels``, which classify's rows have only for label sets."""
    row: dict[str, Any] = {"index": index}
    for field in dataclasses.fields(prediction):
        if field.name == "labels" and not multi_label:
            continue
        value = getattr(prediction, field.name)
        if field.name == PROB_FIELD and isinstance(value, Mapping):
            row.update({f"prob_{name}": float(p) for name, p in value.items()})
        else:
            row[field.name] = _plain(value)
    return row


def _plain(value: Any) -> Any:
    """A JSON-ready copy of a field value (tuples and sets as lists, mappings as dicts of str keys)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    return value


def prediction_rows(predictions: Sequence[Any], multi_label: bool = True) -> dict[str, list[dict[str, Any]]]:
    """The response body for one request's predictions, in request order (see `prediction_row`)."""
    return {"predictions": [prediction_row(p, i, multi_label) for i, p in enumerate(predictions)]}
