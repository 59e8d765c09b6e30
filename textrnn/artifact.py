"""textrnn's own part of a checkpoint: one versioned record, written by `write_record`, read and checked by
`read_record`. It imports nothing from Lightning, torch, the CLI, the models or the data modules.

A Lightning checkpoint holds the weights (``state_dict``), the constructor arguments
(``hyper_parameters``) and the loops' and optimizers' state. Everything textrnn adds lives under one key,
``checkpoint["textrnn"]``:

=================  ==========================================================================================
``version``        the schema version (`SCHEMA_VERSION`); a newer one than this textrnn knows is refused
``model_class``    the model's class path, e.g. ``"textrnn.models.text_rnn.TextRNN"`` (looked up in the
                   allow-list of `textrnn.models.registry`, never imported from the file)
``task``           ``"classification"``, ``"multi_label"`` or ``"language_model"``
``tokenizer``      the trained Hugging Face tokenizer, a JSON string (normalizer, lowercasing included)
``label_names``    the class names, logit i is ``label_names[i]``
``level``          ``"word"`` or ``"char"`` (how generated text is joined back together)
``max_length``     the truncation every prediction path applies (`check_checkpoint` sets it on the tokenizer)
=================  ==========================================================================================

A multi-label model's per-label decision thresholds are a buffer of its weights (``state_dict``), so that
``load_state_dict``, the ONNX export and resuming carry them with the weights they were tuned for.

Schema 0 is what textrnn wrote before this record: the class path under ``textrnn_model`` and the data
module's state under the data module's class name (``TextDataModule``, ``LanguageModelDataModule`` or a
user's subclass). `read_record` migrates it, so every checkpoint written since checkpoints carried a
tokenizer still loads and predicts as it did (tested with such a file, ``tests/fixtures``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping, Optional

KEY = "textrnn"
SCHEMA_VERSION = 1
TASKS = ("classification", "multi_label", "language_model")
LEVELS = ("word", "char")


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: missing pieces, truncated or corrupt, unsafe, or not this model's."""


@dataclass(frozen=True)
class Record:
    """textrnn's record in a checkpoint (see the module docstring for each field)."""

    model_class: str
    task: str
    tokenizer: Optional[str] = None
    label_names: Optional[list[str]] = None
    level: str = "word"
    max_length: Optional[int] = None
    version: int = SCHEMA_VERSION

    @property
    def multi_label(self) -> bool:
        return self.task == "multi_label"

    @property
    def has_data(self) -> bool:
        """Whether the record holds the data module's state (a checkpoint of a run with a text data module)."""
        return self.tokenizer is not None

    def data_state(self) -> dict[str, Any]:
        """The state a text data module's ``load_state_dict`` takes: tokenizer, label names, text settings."""
        state = {"tokenizer": self.tokenizer, "label_names": list(self.label_names or []), "level": self.level}
        if self.max_length is not None:
            state["max_length"] = self.max_length
        return {**state, **({"multi_label": True} if self.multi_label else {})}


def write_record(checkpoint: dict[str, Any], model_class: str, task: str, data_key: Optional[str] = None) -> Record:
    """Put textrnn's record into ``checkpoint`` (a dict Lightning is about to save), in place.

    Args:
        checkpoint: the checkpoint dict.
        model_class: the model's class path.
        task: one of `TASKS`.
        data_key: the key under which Lightning stored the data module's state (its class name); that
            entry moves into the record, so the tokenizer and label names are stored once.
    """
    data = checkpoint.pop(data_key, None) if data_key else None
    record = Record(model_class, task)
    if isinstance(data, Mapping) and "tokenizer" in data:
        record = Record(model_class, task, data["tokenizer"], list(data.get("label_names") or []),
                        data.get("level", "word"), data.get("max_length"))
    checkpoint.pop("textrnn_model", None)  # schema 0's key
    checkpoint[KEY] = asdict(record)
    check_record(record, "the checkpoint being written")
    return record


def read_record(checkpoint: Mapping[str, Any], where: str = "the checkpoint") -> Optional[Record]:
    """textrnn's record in ``checkpoint``, checked; schema 0 (before the record) migrated. None when the
    checkpoint holds neither (a plain Lightning checkpoint, e.g. of the sine regression).

    Raises:
        CheckpointError: a record of an unknown (newer) schema version, or a field of the wrong type.
    """
    stored = checkpoint.get(KEY)
    if stored is None:
        record = _migrate_v0(checkpoint)
    else:
        if not isinstance(stored, Mapping):
            raise CheckpointError(f"{where}: its {KEY!r} record is a {type(stored).__name__}, not a dict")
        version = stored.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise CheckpointError(f"{where}: its {KEY!r} record has no valid schema version (found {version!r})")
        if version > SCHEMA_VERSION:
            raise CheckpointError(f"{where} was written by a newer textrnn (checkpoint schema {version}); this "
                                  f"textrnn reads schemas up to {SCHEMA_VERSION}: upgrade textrnn to load it")
        fields = set(Record.__dataclass_fields__)
        unknown = sorted(set(map(str, stored)) - fields)
        if unknown:
            raise CheckpointError(f"{where}: its {KEY!r} record holds unknown fields {unknown}; valid: {sorted(fields)}")
        missing = [name for name in ("model_class", "task") if name not in stored]
        if missing:
            raise CheckpointError(f"{where}: its {KEY!r} record lacks {missing}")
        record = Record(**stored)
    if record is not None:
        check_record(record, where)
    return record


def _migrate_v0(checkpoint: Mapping[str, Any]) -> Optional[Record]:
    """Schema 0: ``textrnn_model`` plus the data module's state under its class name (any class whose
    state holds a tokenizer, so a user's subclass of TextDataModule is read too)."""
    model_class = checkpoint.get("textrnn_model")
    data = next((value for key, value in checkpoint.items() if isinstance(key, str) and key[:1].isupper()
                 and isinstance(value, Mapping) and "tokenizer" in value), None)
    if model_class is None and data is None:
        return None
    if not isinstance(model_class, str):
        model_class = checkpoint.get("hyper_parameters", {}).get("_class_path") if isinstance(
            checkpoint.get("hyper_parameters"), Mapping) else None
    if not isinstance(model_class, str):
        raise CheckpointError("the checkpoint holds a tokenizer but names no model class ('textrnn_model')")
    if model_class.rpartition(".")[2] == "LanguageModel":
        task = "language_model"
    else:
        task = "multi_label" if isinstance(data, Mapping) and data.get("multi_label") is True else "classification"
    if data is None:
        return Record(model_class, task, version=0)
    return Record(model_class, task, data.get("tokenizer"), data.get("label_names"), data.get("level", "word"),
                  data.get("max_length"), version=0)


def check_record(record: Record, where: str) -> None:
    """Each field of ``record`` of its type; one `CheckpointError` naming the field otherwise."""
    def bad(field: str, valid: str) -> CheckpointError:
        return CheckpointError(f"{where}: the stored {field} {getattr(record, field)!r} is not valid ({valid})")

    if not isinstance(record.model_class, str) or not record.model_class:
        raise bad("model_class", "a class path such as 'textrnn.models.text_rnn.TextRNN'")
    if record.task not in TASKS:
        raise bad("task", "one of " + ", ".join(map(repr, TASKS)))
    if record.tokenizer is not None and not isinstance(record.tokenizer, str):
        raise CheckpointError(f"{where}: the stored tokenizer is a {type(record.tokenizer).__name__}, not a JSON string")
    names = record.label_names
    if names is not None and not (isinstance(names, (list, tuple)) and all(isinstance(n, str) for n in names)):
        raise CheckpointError(f"{where}: label_names must be a list of strings, got {names!r}")
    if names and len(set(names)) != len(names):
        duplicates = sorted({n for n in names if list(names).count(n) > 1})
        raise CheckpointError(f"{where}: label_names {list(names)} repeat {duplicates}; every class needs its own name")
    if record.level not in LEVELS:
        raise bad("level", "one of " + ", ".join(map(repr, LEVELS)))
    max_length = record.max_length
    if max_length is not None and not (isinstance(max_length, int) and not isinstance(max_length, bool) and max_length >= 1):
        raise bad("max_length", "a whole number >= 1")
