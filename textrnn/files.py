"""The user's files and terminal: read texts from .txt/.csv/.jsonl, write rows to .csv/.jsonl safely, and
show untrusted text on a terminal without letting it drive the terminal.

One path for each job, shared by ``textrnn classify``, ``textrnn predict`` (the prediction writer), the
classification report and the comparison harness:

- `read_texts`: a ``.txt`` file holds one text per ``\\n`` (or ``\\r\\n``) line and nothing else splits a
  line (form feeds, ``\\x1c``-``\\x1e``, U+0085, U+2028/9 stay inside their text, unlike
  ``str.splitlines``); a ``.csv`` field may be of any length, and a malformed record (an unterminated
  quote, a wrong number of fields) is an error naming its line; ``.jsonl`` errors name their line too.
- `check_output` and `write_rows`: an output is never one of the inputs (compared as files, so a
  symlink, a hard link or ``./x.csv`` for ``x.csv`` is caught), an existing file is replaced only when
  asked, and the rows go to a temporary file in the same folder that is fsynced and then
  ``os.replace``-d over the target: a crash leaves the old file or the new one, never a part, and no
  temporary file behind.
- `printable`: control characters (C0, DEL, C1), line and paragraph separators, bidirectional and other
  invisible format characters and lone surrogates, escaped as ``\\x1b`` / ``\\u202e``, so an ESC sequence
  inside a text or a label name cannot clear the screen, retitle the window or reverse the line.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import json
import os
import sys
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, Optional, Union

PathLike = Union[str, Path]
INPUT_FORMATS = (".txt", ".csv", ".jsonl")
OUTPUT_FORMATS = (".csv", ".jsonl")
# csv's default field limit is 131,072 characters; training reads long texts, so inference must too.
LABEL_JOIN = "|"  # a label set in one CSV cell: "politics|sports"
CSV_FIELD_LIMIT = min(sys.maxsize, 2**31 - 1)  # the largest a C long takes on every platform


def file_format(path: PathLike, valid: Sequence[str], what: str) -> str:
    """The lowercased extension of ``path`` if it is one of ``valid``, else a ValueError naming both."""
    suffix = Path(path).suffix.lower()
    if suffix not in valid:
        raise ValueError(f"cannot tell the format of {what} {str(path)!r} from {suffix or 'no extension'!r}; "
                         f"valid extensions: {', '.join(valid)}")
    return suffix


# ---- reading ---------------------------------------------------------------------------------------


def read_texts(path: PathLike, text_column: str = "text") -> list[str]:
    """The texts of a .txt (one per line), .csv or .jsonl (the ``text_column`` of every row) file, in order.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: an unknown extension, invalid UTF-8, a missing column, or a malformed line (named).
    """
    suffix = file_format(path, INPUT_FORMATS, "input")
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"no input file at {str(path)!r}")
    try:
        if suffix == ".txt":
            return _txt_lines(file)
        return _csv_texts(file, text_column) if suffix == ".csv" else _jsonl_texts(file, text_column)
    except UnicodeDecodeError as err:  # the input must be UTF-8: no silent replacement characters
        raise ValueError(f"input file {str(path)!r} is not valid UTF-8 (byte 0x{err.object[err.start]:02x}); "
                         f"convert it, e.g. {utf8_hint(file)}") from None


def utf8_hint(path: Path) -> str:
    """How to convert a file that is not UTF-8, for the error that refuses it."""
    return f"`iconv -f latin1 -t utf-8 {path.name} > {path.stem}.utf8{path.suffix}`"


def _txt_lines(file: Path) -> list[str]:
    """Every ``\\n``-terminated line (a ``\\r`` before the ``\\n`` dropped), blank lines included, so row i of
    the output is line i + 1 of the input; a last line without ``\\n`` counts, a final ``\\n`` adds none."""
    with file.open(encoding="utf-8-sig", newline="") as handle:  # newline="": no \r translation
        content = handle.read()
    if not content:
        return []
    lines = content.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _text_value(value: object, where: str) -> str:
    if value is None:  # a null JSON field: still one row, classified as empty text
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{where}: the text is a {type(value).__name__} ({value!r}), not a string")
    return value


@contextlib.contextmanager
def _csv_field_limit(limit: int) -> Iterator[None]:
    previous = csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def _csv_texts(file: Path, text_column: str) -> list[str]:
    with file.open(newline="", encoding="utf-8-sig") as handle, _csv_field_limit(CSV_FIELD_LIMIT):
        reader = csv.reader(handle, strict=True)  # strict: a stray or unterminated quote is an error
        header: Optional[list[str]] = None
        texts: list[str] = []
        start = 1  # the line the current record starts on (a quoted field may span lines)
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as err:
                raise ValueError(f"{printable(file)}:{start}: malformed CSV record starting on line {start} ({err}, "
                                 f"noticed on line {reader.line_num}); is a quote left open?") from None
            where, start = f"{printable(file)}:{start}", reader.line_num + 1
            if not row:  # a blank line
                continue
            if header is None:
                header = _csv_header(file, row, text_column)
                column = header.index(text_column)
                continue
            if len(row) != len(header):
                raise ValueError(f"{where}: {len(row)} fields where the header has {len(header)}; quote a text "
                                 "that holds the delimiter, e.g. \"a, b\"")
            texts.append(row[column])
    if header is None:  # an empty file: say which column was looked for, as for any header without it
        _csv_header(file, [], text_column)
    return texts


def _csv_header(file: Path, header: list[str], text_column: str) -> list[str]:
    if text_column not in header:
        raise ValueError(f"{str(file)!r} has no column {text_column!r}; columns found: {header} "
                         "(choose one with --text_column)")
    return header


def _jsonl_texts(file: Path, text_column: str) -> list[str]:
    texts = []
    with file.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{printable(file)}:{number} is not a JSON object: {err}") from None
            if not isinstance(row, dict) or text_column not in row:
                found = sorted(row) if isinstance(row, dict) else type(row).__name__
                raise ValueError(f"{printable(file)}:{number} has no field {text_column!r}; fields found: {found} "
                                 "(choose one with --text_column)")
            texts.append(_text_value(row[text_column], f"{printable(file)}:{number}"))
    return texts


# ---- writing ---------------------------------------------------------------------------------------


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (or cannot be read): not the same file
        return False


def check_output(path: PathLike, inputs: Iterable[Optional[PathLike]] = (), overwrite: bool = False,
                 formats: Sequence[str] = OUTPUT_FORMATS) -> Path:
    """``path`` as a Path if it is safe to write there, else a ValueError saying why: an unknown
    extension, the same file as one of ``inputs`` (None entries are skipped), a folder, or an existing
    file while ``overwrite`` is False. Call it before any slow work, so a bad output fails at once."""
    file_format(path, formats, "output")
    out = Path(path)
    for source in inputs:
        if source is not None and _same_file(out, Path(source)):
            raise ValueError(f"output {str(path)!r} is the input file {str(source)!r}; writing it would destroy "
                             "the input: choose another output path")
    if out.is_dir():
        raise ValueError(f"output {str(path)!r} is a folder; give a file path such as {str(out / 'predictions.csv')!r}")
    folder = out.absolute().parent
    while not folder.exists():  # the folder is created on writing: its nearest existing ancestor must allow it
        folder = folder.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write output {str(path)!r}: {str(folder)!r} is "
                         f"{'not a folder' if not folder.is_dir() else 'a folder this user may not write into'}")
    if out.exists() and not overwrite:
        raise ValueError(f"output {str(path)!r} already exists; pass --overwrite to replace it, or choose another path")
    return out


def _umask() -> int:
    """The process umask, read without changing it where Linux shows it (another thread may be creating a
    file meanwhile); elsewhere by setting and restoring it."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    umask = os.umask(0o077)  # briefly the strictest sensible mask, never a permissive one
    os.umask(umask)
    return umask


def _new_file_mode(target: Path) -> int:
    """An existing target keeps its permissions; a new file gets what the umask allows (mkstemp's are 0600)."""
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~_umask()


class WriteError(OSError):
    """A file or folder could not be written (a full disk, a read-only folder, ...): one line naming the
    path and the cause, e.g. ``cannot write the checkpoint 'runs/x/last.ckpt': No space left on device (ENOSPC); ...``."""

    def __str__(self) -> str:
        return str(self.strerror)


def _os_error(err: BaseException) -> Optional[OSError]:
    """The OSError behind ``err``: itself or one in its cause or context chain (one with an errno first), or
    an errno that a library (torch's zip writer, pyarrow) only left in its message as ``[Errno 28]``."""
    chain, current = [], err
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or current.__context__
    errors = [e for e in chain if isinstance(e, OSError)]
    if errors:
        return next((e for e in errors if e.errno), errors[0])
    import re

    found = re.search(r"errno[ =]?(\d+)", str(err), flags=re.IGNORECASE)
    if found:
        code = int(found.group(1))
        return OSError(code, os.strerror(code))
    if "file write failed" in str(err):  # torch's inline_container, when it kept no OSError
        return OSError(errno.EIO, "the write failed")
    return None


def write_error(path: PathLike, err: BaseException, what: Optional[str] = None,
                kept: str = "nothing was left half-written") -> Optional[WriteError]:
    """A `WriteError` saying that ``path`` (``what``, e.g. "the checkpoint") could not be written and why,
    if ``err`` comes from the operating system; None for any other error (the caller re-raises it)."""
    if isinstance(err, WriteError):
        return err
    cause = _os_error(err)
    if cause is None:
        return None
    if isinstance(cause, WriteError):
        return cause
    reason = (cause.strerror or str(cause) or type(cause).__name__).rstrip(".")
    code = f" ({errno.errorcode[cause.errno]})" if cause.errno in errno.errorcode else ""
    subject = f"{what} {str(path)!r}" if what else repr(str(path))
    return WriteError(cause.errno, f"cannot write {subject}: {reason}{code}; {kept}")


@contextlib.contextmanager
def atomic_write(path: PathLike, binary: bool = False, what: Optional[str] = None) -> Iterator[IO[Any]]:
    """Open a temporary file next to ``path`` for writing; when the block ends without an error, fsync it
    and ``os.replace`` it over ``path`` (atomic on POSIX and Windows), then fsync the folder. On any error
    the temporary file is removed and ``path`` is left as it was. The folder is created if missing. An
    error of the operating system (a full disk: ENOSPC) is raised as one `WriteError` naming ``path`` (as
    ``what``, e.g. "the checkpoint", if given)."""
    path = Path(path)
    temp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.chmod(temp, _new_file_mode(path))
        with (os.fdopen(handle, "wb") if binary else os.fdopen(handle, "w", encoding="utf-8", newline="")) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException as err:
        if temp is not None:
            Path(temp).unlink(missing_ok=True)
        failure = write_error(path, err, what, kept="the file there before, if any, is unchanged") \
            if isinstance(err, Exception) else None
        if failure is None:
            raise
        raise failure from err
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable (POSIX)
        folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def write_rows(rows: Iterable[dict[str, Any]], path: PathLike, columns: Sequence[str],
               inputs: Iterable[Optional[PathLike]] = (), overwrite: bool = False) -> Path:
    """Write ``rows`` (dicts; keys outside ``columns`` are ignored) as CSV with a header or as JSONL (one
    object per line, the keys in ``columns`` order), by the extension of ``path``, atomically and only if
    `check_output` allows it. Returns the path written."""
    out = check_output(path, inputs, overwrite)
    columns = list(columns)
    with atomic_write(out) as handle:
        if out.suffix.lower() == ".csv":
            writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            # A list (a multi-label prediction's label set) is one cell, its items joined by LABEL_JOIN.
            writer.writerows({k: LABEL_JOIN.join(map(str, v)) if isinstance(v, list) else v for k, v in row.items()}
                             for row in rows)
        else:
            for row in rows:
                handle.write(json.dumps({key: row.get(key) for key in columns}, ensure_ascii=False) + "\n")
    return out


def save_figure(fig: Any, path: PathLike, **kwargs: Any) -> None:
    """``fig.savefig(path, **kwargs)`` atomically: rendered in memory, then written by `atomic_write`, so a
    full disk leaves the old picture (or none), never a truncated one."""
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format=Path(path).suffix.lstrip(".") or "png", **kwargs)
    with atomic_write(path, binary=True) as handle:
        handle.write(buffer.getvalue())


def write_json(data: Any, path: PathLike) -> None:
    """``data`` as indented JSON (UTF-8, non-ASCII kept), written atomically over ``path``: a run's own file,
    replaced freely (report.json, result.json)."""
    with atomic_write(path) as handle:
        handle.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def prediction_rows(
    texts: Sequence[str], probs: Sequence[Sequence[float]], label_names: Sequence[str],
    index: Optional[Sequence[int]] = None, label_sets: Optional[Sequence[Sequence[str]]] = None,
) -> list[dict[str, object]]:
    """One flat row per text: index (default: its position), text, label, confidence, prob_<class> per class;
    with ``label_sets`` (multi-label) also ``labels``, the labels chosen (a list; ``|``-joined in CSV)."""
    rows = []
    for i, (text, row) in enumerate(zip(texts, probs)):
        best = max(range(len(row)), key=row.__getitem__)
        rows.append({"index": i if index is None else int(index[i]), "text": text, "label": label_names[best],
                     "confidence": float(row[best]), **{f"prob_{name}": float(p) for name, p in zip(label_names, row)}})
        if label_sets is not None:
            rows[-1]["labels"] = list(label_sets[i])
    return rows


def prediction_columns(label_names: Sequence[str], multi_label: bool = False) -> list[str]:
    """The columns of `prediction_rows`, in order (``labels`` after ``label`` for multi-label predictions)."""
    return ["index", "text", "label", *(["labels"] if multi_label else []), "confidence",
            *(f"prob_{name}" for name in label_names)]



# ---- the terminal ----------------------------------------------------------------------------------

# Bidirectional controls are format characters (Cf) like the zero-width joiner that emoji sequences need,
# so they are named one by one: embeddings, overrides and isolates, and the marks (Trojan Source, CVE-2021-42574).
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
UNSAFE_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})  # controls, lone surrogates, line/paragraph separators


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: object) -> str:
    """``str(text)`` with every character that could act on a terminal escaped (``\\x1b``, ``\\u202e``):
    C0 and C1 controls, DEL, line and paragraph separators, bidi controls and lone surrogates. Newlines
    and tabs are escaped too; callers that want lines print them one by one."""
    text = str(text)
    if text.isprintable():  # the common case: nothing to escape (isprintable is False for all of the above)
        return text
    return "".join(
        _escape(char) if char in BIDI_CONTROLS or unicodedata.category(char) in UNSAFE_CATEGORIES else char
        for char in text
    )
