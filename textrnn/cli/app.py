"""The ``textrnn`` command: LightningCLI with ``fit``, ``validate``, ``test`` and ``predict``.

Every model and datamodule argument comes from the classes' typed constructors, so
``textrnn fit --help`` and ``textrnn fit --config configs/textrnn_bilstm.yaml --print_config`` are the
documentation. Sizes that depend on the data (``vocab_size``, ``num_classes``, ``pad_id``) are linked
from the datamodule to the model; models that do not take them (the sine regression) are left alone.
``fit`` ends by testing the best checkpoint, so a whole experiment is one command.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.plugins.io import TorchCheckpointIO

import textrnn.data  # noqa: F401  (registers the datamodules for `class_path: TextDataModule`)
import textrnn.models  # noqa: F401  (registers the models for `class_path: TextRNN`)
from textrnn.inference.checkpoints import PACKAGE_PREFIX, AtomicCheckpointIO, CheckpointError, read_checkpoint
from textrnn.cli.errors import TextRNNArgumentParser, describe
from textrnn.data import HubUnavailableError
from textrnn.callbacks.training import ResumeRNGState, StopOnNonFiniteLoss

LINKED_FROM_DATA = ("vocab_size", "num_classes", "pad_id")
# Subcommands outside LightningCLI, added to `textrnn --help` when their module is installed.
MORE_SUBCOMMANDS = {
    "classify": "Classify raw texts with a trained checkpoint (textrnn classify --help).",
    "export": "Export a trained checkpoint to ONNX (textrnn export --help).",
}


class TextRNNCLI(LightningCLI):
    """LightningCLI with a best/last checkpoint callback, data-to-model links and test-after-fit."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults(
            {
                "checkpoint.monitor": "val/acc",
                "checkpoint.mode": "max",
                "checkpoint.save_last": True,
                "checkpoint.filename": "best-epoch{epoch}-step{step}",
                "checkpoint.auto_insert_metric_name": False,
            }
        )
        for name in LINKED_FROM_DATA:
            parser.link_arguments(f"data.{name}", f"model.init_args.{name}", apply_on="instantiate")

    def instantiate_trainer(self, **kwargs):
        """The Trainer, writing checkpoints atomically (see `textrnn.inference.checkpoints.AtomicCheckpointIO`)."""
        trainer = super().instantiate_trainer(**kwargs)
        if type(trainer.strategy.checkpoint_io) is TorchCheckpointIO:  # Lightning's default writer
            trainer.strategy.checkpoint_io = AtomicCheckpointIO()
        return trainer

    def _parse_ckpt_path(self) -> None:
        """LightningCLI reads the model's class and arguments from ``--ckpt_path`` into the config. Read the
        file through `read_checkpoint` first (one clear error for a bad file) and refuse a model class from
        outside textrnn: a checkpoint must not choose which module gets imported."""
        subcommand = self.config.get("subcommand")
        ckpt_path = self.config[subcommand].get("ckpt_path") if subcommand else None
        if ckpt_path and Path(ckpt_path).is_file():
            hparams = read_checkpoint(ckpt_path).get("hyper_parameters") or {}
            class_path = hparams.get("_class_path") if isinstance(hparams, dict) else None
            if class_path is not None and not str(class_path).startswith(PACKAGE_PREFIX):
                raise CheckpointError(f"{ckpt_path!r} names model class {class_path!r}; only textrnn's models are "
                                      "built from a checkpoint")
        super()._parse_ckpt_path()

    def _weights_only(self) -> None:
        """Load every ``--ckpt_path`` with ``weights_only=True``: no pickled code runs from a checkpoint."""
        config = self.config_init[self.subcommand]
        if config.get("weights_only") is False:
            raise ValueError("--weights_only false is refused: textrnn checkpoints hold only tensors and plain "
                             "types, so they always load with weights_only=True (see 'Safe loading' in README.md)")
        config["weights_only"] = True

    before_validate = before_test = before_predict = _weights_only

    def before_fit(self) -> None:
        self._weights_only()
        self._resolve_last()

    def _resolve_last(self) -> None:
        """``--ckpt_path last`` resumes this experiment's newest ``last.ckpt``.

        Lightning looks for ``last.ckpt`` only in the new run's own checkpoint folder, which is a fresh
        ``version_N`` folder, so on its own it would find nothing and start again from scratch. Here
        ``last`` means the newest ``<save_dir>/<name>/version_*/checkpoints/last.ckpt``. The resumed run
        logs into a new version folder, so the interrupted run's ``metrics.csv`` is kept, not rewritten.
        With ``--checkpoint.dirpath`` set, Lightning's own rule (look in that folder) applies.
        """
        config = self.config_init[self.subcommand]
        callback = self.trainer.checkpoint_callback
        root = getattr(self.trainer.logger, "root_dir", None)
        if config.get("ckpt_path") != "last" or callback is None or callback.dirpath is not None or not root:
            return
        runs = {}  # version number -> its last.ckpt
        for path in Path(root).glob("version_*/checkpoints/last.ckpt"):
            version = path.parts[-3].removeprefix("version_")
            if version.isdigit():
                runs[int(version)] = path
        if not runs:
            pl.utilities.rank_zero_info(f"--ckpt_path last: no last.ckpt under {root}; starting from scratch.")
            return
        newest = runs[max(runs)]
        config["ckpt_path"] = str(newest)
        pl.utilities.rank_zero_info(f"--ckpt_path last: resuming from {newest}")

    def after_fit(self) -> None:
        """Evaluate the best checkpoint on the test split and print its metrics."""
        if self.trainer.interrupted:
            return
        best = None if self.trainer.fast_dev_run else (self.trainer.checkpoint_callback.best_model_path or None)
        self.trainer.test(self.model, datamodule=self.datamodule, ckpt_path=best, weights_only=True)


def run_cli(args: list[str] | None = None) -> TextRNNCLI:
    """Run the CLI on ``args`` (default: ``sys.argv``) and return it, trainer and model included."""
    return TextRNNCLI(
        pl.LightningModule,
        pl.LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        auto_configure_optimizers=False,  # the models choose their optimizer by name
        seed_everything_default=42,
        save_config_kwargs={"overwrite": True},
        parser_class=TextRNNArgumentParser,  # bad options and values in one line
        trainer_defaults={"callbacks": [StopOnNonFiniteLoss(), ResumeRNGState()]},  # added to any config's
        args=args,
    )


def main(args: list[str] | None = None) -> None:
    """Entry point of the ``textrnn`` console command: user errors end in one message, not a traceback."""
    argv = sys.argv[1:] if args is None else list(args)
    if argv[:1] == ["classify"]:  # `textrnn classify`: raw text through a checkpoint (argparse, not LightningCLI)
        from textrnn.cli.classify import main as classify_main

        code = classify_main(argv[1:])
        if code:
            raise SystemExit(code)
        return
    try:
        run_cli(args)
    except SystemExit:
        if argv[:1] in (["-h"], ["--help"]):  # LightningCLI's help lists its own subcommands only
            import importlib.util

            more = [f"    {name:<20}{text}" for name, text in MORE_SUBCOMMANDS.items()
                    if importlib.util.find_spec(f"textrnn.cli.{name}") is not None]
            sys.stdout.write("\n  Also:\n" + "\n".join(more) + "\n")
        raise
    except (ValueError, FileNotFoundError, HubUnavailableError) as err:
        if os.environ.get("TEXTRNN_TRACEBACK"):
            raise
        sys.stderr.write(f"textrnn: error: {describe(err)}\n(set TEXTRNN_TRACEBACK=1 to see the full traceback)\n")
        raise SystemExit(2) from None

