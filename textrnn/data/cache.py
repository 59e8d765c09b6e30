"""The prepared data on disk: split, tokenized, memory-mapped Arrow files, reused while nothing changed.

A prepared data set is one folder under the cache directory (``--data.cache_dir``; by default
``$TEXTRNN_CACHE_DIR`` or ``~/.cache/textrnn/data``), named by a key: a SHA-256 over the data's content
and every option that changes the result (data set and configuration, columns, level, lowercase,
vocabulary size and minimum frequency, max_length, split fractions, seed, fixed label names). The data's
content is the bytes of your files (or of the built-in BBC files); a Hub data set is keyed by the
fingerprints `datasets` gives its splits. So a changed file or option is a new key, never a stale hit.

The folder holds ``train.arrow``, ``validation.arrow`` and ``test.arrow`` (columns ``text``, ``label``
and ``ids``, the token ids, as `datasets` writes them) and ``meta.json`` (label names, the tokenizer,
split sizes, the options keyed). It is written under a temporary name and renamed into place when
complete, so an interrupted run, or two processes preparing at once, never leave a half-written cache.
"""

import hashlib
import json
import os
import shutil
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import numpy as np

from textrnn.data.progress import Progress
from textrnn.data.sources import BUILTIN, BUILTIN_MULTILABEL, LOCAL_BUILDERS, DataFiles, _local_files, bbc_news_dir
from textrnn.data.splits import BATCH
from textrnn.data.tokenizer import encode_batch

FORMAT = 1  # bump when the pipeline's output changes for the same inputs
SPLIT_FILES = ("train", "validation", "test")


def default_cache_dir() -> Path:
    """``$TEXTRNN_CACHE_DIR``, else ``$XDG_CACHE_HOME/textrnn/data`` (``~/.cache/textrnn/data``)."""
    if os.environ.get("TEXTRNN_CACHE_DIR"):
        return Path(os.environ["TEXTRNN_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "textrnn" / "data"


def cache_root(cache_dir: Optional[str]) -> Path:
    """The cache folder, created if needed; one clear error if it cannot be."""
    root = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".probe-{uuid.uuid4().hex}"
        probe.touch()
        probe.unlink()
    except OSError as error:
        raise ValueError(
            f"data cache folder {str(root)!r} is not usable ({error.strerror or error}); "
            "choose a writable folder with --data.cache_dir"
        ) from None
    return root


def _file_digest(path: Path) -> str:
    digest = hashlib.blake2b(digest_size=20)
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def content_digest(dataset: str, data_files: Optional[DataFiles]) -> Optional[str]:
    """A digest of the data's bytes, before loading it; None for a Hub data set (keyed after loading)."""
    if dataset in (BUILTIN, BUILTIN_MULTILABEL):
        root = bbc_news_dir()
        files = sorted(root.rglob("*.txt")) if root.is_dir() else []
        digest = json.dumps([[str(p.relative_to(root)), _file_digest(p)] for p in files])
        if dataset == BUILTIN_MULTILABEL:  # the same files, built into label sets by a versioned recipe
            from textrnn.data.bbc_multilabel import VERSION

            return json.dumps({"bbc_multilabel_version": VERSION, "files": digest})
        return digest
    if dataset not in LOCAL_BUILDERS or not data_files:
        return None
    splits = data_files if isinstance(data_files, dict) else {"train": data_files}
    found = {}
    for split, files in sorted(splits.items()):
        paths = _local_files(files)
        if not all(path.is_file() for path in paths):
            return None  # let loading name the missing file
        found[split] = [_file_digest(path) for path in paths]
    return json.dumps(found)


def cache_key(content: str, options: dict[str, Any]) -> str:
    """The folder name for this content and these options."""
    text = json.dumps({"format": FORMAT, "content": content, "options": options}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def read_meta(folder: Path) -> Optional[dict[str, Any]]:
    """The cache folder's meta.json if the folder is complete, else None."""
    try:
        meta = json.loads((folder / "meta.json").read_text())
    except (OSError, ValueError):
        return None
    if not all((folder / f"{split}.arrow").is_file() for split in SPLIT_FILES):
        return None
    return meta


def write_folder(folder: Path, write: Callable[[Path], None]) -> None:
    """Run ``write(tmp)`` into a fresh temporary folder, then rename it to ``folder`` (atomically).
    If another process finished the same folder first, its copy is kept."""
    tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    tmp.mkdir(parents=True)
    try:
        write(tmp)
        try:
            os.rename(tmp, folder)
        except OSError:
            if read_meta(folder) is None:
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def encode_to_file(
    source: Any,
    text_column: str,
    labels: np.ndarray,
    tokenizer: Any,
    path: Path,
    what: str,
    num_proc: int = 0,
) -> None:
    """Write one split as an Arrow file: its ``text``, ``label`` ids and token ``ids``, in batches.

    Args:
        source: a `datasets.Dataset` holding the split's rows (a selection of a loaded split is fine).
        text_column: the column with the text.
        labels: the label id of each row of ``source``, (N,), or for multi-label data its multi-hot label
            set, (N, L), stored as the list of the row's label ids.
        tokenizer: the trained tokenizer.
        path: the Arrow file to write.
        what: the split's name, for the progress lines.
        num_proc: worker processes for tokenizing (0 or 1: this process).
    """
    from datasets import Features, Sequence, Value

    multi_label = np.ndim(labels) == 2
    label_feature = Sequence(Value("int64")) if multi_label else Value("int64")
    features = Features({"text": Value("string"), "label": label_feature, "ids": Sequence(Value("int32"))})
    progress = Progress(f"tokenized {what}", total=len(source)) if num_proc <= 1 else None

    def encode(texts: list, rows: list[int]) -> dict[str, list]:
        texts = [text or "" for text in texts]
        if progress is not None:
            progress.update(len(texts))
        label = [np.flatnonzero(row).tolist() for row in labels[rows]] if multi_label else labels[rows].tolist()
        return {"text": texts, "label": label, "ids": encode_batch(tokenizer, texts)}

    parallel = num_proc > 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # datasets warns that a closure over numpy cannot be hashed
        done = source.map(
            encode,
            batched=True,
            batch_size=BATCH,
            with_indices=True,
            input_columns=[text_column],
            remove_columns=source.column_names,
            features=features,
            cache_file_name=str(path.with_suffix(".part.arrow") if parallel else path),
            load_from_cache_file=False,
            new_fingerprint=uuid.uuid4().hex,
            num_proc=num_proc if parallel else None,
            desc=f"tokenizing {what}",
        )
        if parallel:  # the workers wrote one shard each: join them into the split's one file
            done.map(None, cache_file_name=str(path), new_fingerprint=uuid.uuid4().hex, desc=f"joining {what}")
            for shard in path.parent.glob(f"{path.stem}.part*.arrow"):
                shard.unlink()
    if progress is not None:
        progress.done()
