"""The experiment configs that ship inside the package, and ``--config NAME`` for them.

The YAML files are package data, ``textrnn/configs/*.yaml``, so an installed wheel carries them. In the
repository ``textrnn/configs`` is a link to the top-level ``configs/`` folder: one copy of each file, and
building the wheel copies the files it points to. ``textrnn fit --config
textcnn`` means the shipped ``textcnn.yaml`` from any directory: `resolve_config_names` rewrites such a
bare name to the file's path before LightningCLI parses the arguments. A value that is an existing path,
or that is not a bare name (a path, a ``.yaml`` file name, an inline YAML string), is left to
LightningCLI as it is.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Sequence

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"
CONFIG_FLAGS = ("--config", "-c")
_BARE_NAME = re.compile(r"[A-Za-z0-9][\w-]*")  # no dot, no slash: not a file name, not inline YAML


def shipped_configs() -> list[str]:
    """The names of the shipped configs (``textcnn``, ``textrnn_bilstm``, ...), sorted."""
    return sorted(path.stem for path in CONFIG_DIR.glob("*.yaml"))


def config_path(name: str) -> Path:
    """The shipped config called ``name``; a ValueError listing the shipped names (and a near one) if none is."""
    path = CONFIG_DIR / f"{name}.yaml"
    if _BARE_NAME.fullmatch(name) and path.is_file():
        return path
    names = shipped_configs()
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ValueError(f"--config {name!r} is neither a file nor a shipped config; {hint}"
                     f"shipped configs: {', '.join(names)} (or give the path of a YAML file)")


def resolve_config_names(args: Sequence[str]) -> list[str]:
    """``args`` with every ``--config NAME`` (also ``--config=NAME``, ``-c NAME``) of a shipped config
    replaced by its path. A bare name that is no file and no shipped config raises one ValueError."""
    out = list(args)
    for i, arg in enumerate(out):
        flag, eq, value = arg.partition("=")
        if flag not in CONFIG_FLAGS:
            continue
        if not eq:  # the value is the next argument
            if i + 1 >= len(out):
                continue
            i, value = i + 1, out[i + 1]
        if _BARE_NAME.fullmatch(value) and not Path(value).exists():
            resolved = str(config_path(value))
            out[i] = f"{flag}={resolved}" if eq else resolved
    return out
