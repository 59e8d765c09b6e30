"""User errors of the ``textrnn`` command, each as one line that names the bad value and what is valid.

jsonargparse reports a bad option or value as a page of usage followed by a nested report of every
type it tried; `TextRNNArgumentParser` prints one line instead (with "did you mean" for a misspelt
option, and the valid options of the class being configured), and `describe` does the same for
errors raised while the CLI builds the model and data (a class's own ``ValueError`` inside
jsonargparse's report, or a Lightning ``MisconfigurationException``, prefixed with the option it names).
`check_output_folder` and `check_seed` catch before anything is built what Lightning, numpy or the file
system would otherwise reject with a traceback, or only after an epoch of training.

A choice (``cell``, ``pooling``, ``optimizer``, ...) is a ``Literal[...]`` type on the constructor, so
jsonargparse itself rejects a bad value; the report names only the class, the key and the value, and the
valid choices and the "did you mean" hint come from the class's own ``Literal`` type.

The patterns below read jsonargparse's and Lightning's message texts, written against jsonargparse 4.53
and Lightning 2.6: pyproject.toml bounds both (``<5``, ``<3``) so that a release that rewords them is
not installed unseen, and tests/reliability/test_option_errors.py runs each pattern on a real message.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import os
import re
import sys
import typing
from pathlib import Path
from typing import Literal, Optional, Union

from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser
from lightning.pytorch.utilities.exceptions import MisconfigurationException

from textrnn.models.registry import MODELS

MAX_SEED = 2**32 - 1  # numpy's seeds run from 0 to 2**32 - 1
UNION_REPORT = "Does not validate against any of the Union subtypes"
TYPE_WORDS = {  # jsonargparse's type names, as a user reads them
    "int": "a whole number", "float": "a number", "bool": "true or false", "str": "a string",
    "list": "a list, e.g. [3, 4, 5]", "tuple": "a list, e.g. [3, 4, 5]",
}
CHOICES = {  # what `--model NAME` and `--data NAME` accept
    "model": tuple(MODELS),
    "data": ("TextDataModule", "SineDataModule"),
}


def describe(err: BaseException) -> str:
    """One line for a user error: the innermost message under jsonargparse's report, whitespace folded;
    Lightning's rejection of a Trainer or checkpoint argument starts with the option it names."""
    while UNION_REPORT in str(err) and (err.__cause__ or err.__context__) is not None:
        err = err.__cause__ or err.__context__
    message = " ".join(str(err).split())
    if isinstance(err, MisconfigurationException):
        option = _lightning_option(message)
        message = f"{option}: {message}" if option else message
    return message


def _lightning_option(message: str) -> Optional[str]:
    """The ``--trainer.*`` or ``--checkpoint.*`` option a Lightning message names, e.g. ``--trainer.max_epochs``."""
    for group, cls in (("trainer", Trainer), ("checkpoint", ModelCheckpoint)):
        names = sorted(inspect.signature(cls).parameters, key=len, reverse=True)
        found = re.search(r"\b(" + "|".join(names) + r")\b", message)
        if found:
            return f"--{group}.{found.group(1)}"
    return None


def check_output_folder(option: str, folder: object) -> None:
    """A ValueError naming ``option`` unless ``folder`` exists as a writable folder or can be created."""
    if folder is None or "://" in str(folder):  # remote folders are the file system's business
        return
    path = Path(str(folder)).expanduser().absolute()
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"{option} {str(folder)!r} cannot be a folder: {str(existing)!r} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{option} {str(folder)!r} cannot be written: {str(existing)!r} is not writable")


def check_seed(seed: object) -> None:
    """A ValueError naming ``--seed_everything`` unless it is a bool or a whole number numpy accepts."""
    if not isinstance(seed, bool) and seed is not None and not (isinstance(seed, int) and 0 <= seed <= MAX_SEED):
        raise ValueError(f"--seed_everything must be true, false or a whole number from 0 to {MAX_SEED}, got {seed!r}")


def _class(class_path: str) -> Optional[type]:
    """The class at ``class_path`` (already imported by jsonargparse), or None."""
    module, _, name = class_path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        return None


def _parameters(class_path: str) -> list[str]:
    """The constructor arguments of the class at ``class_path``."""
    try:
        params = inspect.signature(_class(class_path)).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def literal_choices(class_path: str, name: str) -> tuple[str, ...]:
    """The values of argument ``name``'s ``Literal[...]`` type (also inside ``Optional``); () if not a Literal."""
    try:
        hint = typing.get_type_hints(_class(class_path).__init__).get(name)
    except Exception:  # an unresolvable annotation: no hint, the generic message stays
        return ()
    options = typing.get_args(hint) if typing.get_origin(hint) is Union else (hint,)
    return tuple(c for o in options if typing.get_origin(o) is Literal for c in typing.get_args(o))


def _did_you_mean(name: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def condense(message: str, parser: LightningArgumentParser) -> str:
    """jsonargparse's error ``message`` as one line naming the bad key or value and the valid ones."""
    option = re.search(r"class_path '([\w.]+)':\s*Option '(\w+)' is not accepted", message)
    if option:  # a misspelt constructor argument, on the command line or in a YAML file
        class_path, name = option.groups()
        valid = _parameters(class_path)
        return (f"unknown option {name!r} for {class_path.rsplit('.', 1)[-1]}{_did_you_mean(name, valid)} "
                f"valid options: {', '.join(valid)}")
    unknown = re.search(r"does not accept option '([\w.]+)'", message) or re.search(
        r"unrecognized arguments: .*?--([\w.]+)", message
    )
    if unknown:  # a misspelt trainer/checkpoint/top-level key
        key = unknown.group(1)
        dests = [action.dest for action in parser._actions if action.dest and action.dest != "help"]
        group = key.rsplit(".", 1)[0] + "." if "." in key else ""
        siblings = [d for d in dests if d.startswith(group) and d.count(".") == key.count(".")]
        hint = _did_you_mean(key, siblings)
        return f"unknown option {key!r}{hint or '; valid options: ' + ', '.join(siblings)}"
    choice = re.search(r"class_path '([\w.]+)':\s*Parser key \"(\w+)\":\s*Expected a [^\n]*Got value: (.*)", message)
    if choice and literal_choices(*choice.group(1, 2)):  # a value outside a Literal[...] choice
        class_path, name, value = choice.groups()
        valid = literal_choices(class_path, name)
        group = re.search(r'Parser key "([\w.]+)"', message).group(1)  # the outermost: "model" or "data"
        return (f"{group}.init_args.{name}: {value.strip()!r} is not a valid choice for "
                f"{class_path.rsplit('.', 1)[-1]}{_did_you_mean(value.strip(), list(valid)) or ';'} "
                f"valid choices: {', '.join(map(repr, valid))}")
    if choice:  # a constructor argument's value of the wrong type, e.g. --data.init_args.batch_size 0.5
        class_path, name, value = choice.groups()
        group = re.search(r'Parser key "([\w.]+)"', message).group(1)
        expected = re.search(r"Expected a (.*?)\. Got value", message)
        wanted = re.sub(r"<class '([\w.]+)'>", r"\1", expected.group(1)) if expected else ""
        return (f"{group}.init_args.{name} ({class_path.rsplit('.', 1)[-1]}): expected "
                f"{TYPE_WORDS.get(wanted, wanted or 'another type')}, got {value.strip()!r}")
    if UNION_REPORT in message:  # a value of the wrong type, or an unknown class name
        key = re.search(r'Parser key "([^"]+)"', message)
        errors = [line.strip()[2:] for line in message.splitlines()
                  if line.strip().startswith("- ") and "NoneType" not in line and UNION_REPORT not in line]
        given = re.search(r"Given value: (.*)", message)
        text = re.sub(r"<class '([\w.]+)'>", r"\1", f"{key.group(1) + ': ' if key else ''}{'; '.join(errors)}")
        if given:
            text += f" (given: {given.group(1).strip()})"
        if key and key.group(1) in CHOICES:
            text += f"; valid: {', '.join(CHOICES[key.group(1)])}"
        return text
    return " ".join(message.split())


class TextRNNArgumentParser(LightningArgumentParser):
    """LightningCLI's parser, reporting a bad option or value in one line instead of usage and a report."""

    def error(self, message: str, ex: Optional[Exception] = None):
        # jsonargparse's inner parsers run with exit_on_error=False and handle their own errors
        if not self.exit_on_error or os.environ.get("JSONARGPARSE_DEBUG") or os.environ.get("TEXTRNN_TRACEBACK"):
            return super().error(message, ex)
        parser = getattr(ex, "subcommand_parser", None) or self
        prog = parser.prog.replace(" [options]", "")
        sys.stderr.write(f"textrnn: error: {condense(message, parser)}\n(`{prog} --help` lists every option)\n")
        raise SystemExit(2)
