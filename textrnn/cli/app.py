"""The ``textrnn`` command: LightningCLI with ``fit``, ``validate``, ``test`` and ``predict``.

Every model and datamodule argument comes from the classes' typed constructors, so
``textrnn fit --help`` and ``textrnn fit --config configs/textrnn_bilstm.yaml --print_config`` are the
documentation. Sizes that depend on the data (``vocab_size``, ``num_classes``, ``pad_id``) are linked
from the datamodule to the model; models that do not take them (the sine regression) are left alone.
``fit`` ends by testing the best checkpoint, so a whole experiment is one command. SIGTERM or Ctrl+C
during a run saves ``last.ckpt`` and exits 143 or 130 (`textrnn.callbacks.training.StopOnSignal`).
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
from pathlib import Path
from typing import Optional

import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.plugins.io import TorchCheckpointIO
from lightning.pytorch.utilities.exceptions import MisconfigurationException

import textrnn.data  # noqa: F401  (registers the datamodules for `class_path: TextDataModule`)
import textrnn.models  # noqa: F401  (registers the models for `class_path: TextRNN`)
from textrnn.inference.checkpoints import AtomicCheckpointIO, allowed_model, check_checkpoint, read_checkpoint
from textrnn.models.registry import model_classes, model_path
from textrnn.cli.configs import resolve_config_names
from textrnn.cli.errors import TextRNNArgumentParser, check_output_folder, check_seed, describe
from textrnn.data import HubUnavailableError
from textrnn.files import printable
from textrnn.callbacks.predictions import add_prediction_arguments, check_prediction_options, run_predict
from textrnn.callbacks.training import ResumeRNGState, StopOnNonFiniteLoss, StoppedBySignal, StopOnSignal

LINKED_FROM_DATA = ("vocab_size", "num_classes", "pad_id", "multi_label")
# Subcommands outside LightningCLI (plain argparse): name -> (module with main(argv) -> exit code, help line).
MORE_SUBCOMMANDS = {
    "classify": ("textrnn.cli.classify", "Classify texts with a checkpoint or exported model (textrnn classify --help)."),
    "export": ("textrnn.cli.export", "Export a checkpoint to ONNX, needs textrnn[onnx] (textrnn export --help)."),
    "generate": ("textrnn.cli.generate", "Continue a prompt with a language model (textrnn generate --help)."),
    "serve": ("textrnn.cli.serve", "Serve a checkpoint or export over HTTP, needs textrnn[serve] (textrnn serve --help)."),
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

    def _set_seed(self) -> None:
        """Seed as LightningCLI does, after checking the seed (numpy's error would not name the option)."""
        config = self.config[self.subcommand] if self.subcommand else self.config
        check_seed(config.get("seed_everything"))
        super()._set_seed()

    def before_instantiate_classes(self) -> None:
        """Check every output folder before anything is built or trained: a folder under a file, or one
        that cannot be written, would otherwise fail only when the first checkpoint is due."""
        config = self.config[self.subcommand] if self.subcommand else self.config
        check_output_folder("--trainer.default_root_dir", config["trainer"].get("default_root_dir"))
        if config.get("checkpoint") is not None:
            check_output_folder("--checkpoint.dirpath", config["checkpoint"].get("dirpath"))
        loggers = config["trainer"].get("logger")
        for logger in loggers if isinstance(loggers, list) else [loggers]:
            init_args = logger.get("init_args") if hasattr(logger, "get") else None
            for key in ("save_dir", "root_dir"):
                if init_args is not None and init_args.get(key) is not None:
                    check_output_folder(f"--trainer.logger.init_args.{key}", init_args.get(key))
        if self.subcommand == "predict":  # a bad --output fails before any data or model loads
            check_prediction_options(config)
        self._share_pretrained_vocabulary(config)

    @staticmethod
    def _share_pretrained_vocabulary(config) -> None:
        """A model fine-tuned from a language model (``--model.init_args.pretrained``) needs its vocabulary:
        the data's ``tokenizer_from`` is set to the same checkpoint, unless the config sets it itself."""
        model_args = (config.get("model") or {}).get("init_args") or {}
        data_args = (config.get("data") or {}).get("init_args") or {}
        pretrained = model_args.get("pretrained") if hasattr(model_args, "get") else None
        if pretrained and hasattr(data_args, "get") and "tokenizer_from" in data_args and not data_args.get("tokenizer_from"):
            data_args["tokenizer_from"] = pretrained

    def instantiate_trainer(self, **kwargs):
        """The Trainer, writing checkpoints atomically (see `textrnn.inference.checkpoints.AtomicCheckpointIO`)."""
        trainer = super().instantiate_trainer(**kwargs)
        if type(trainer.strategy.checkpoint_io) is TorchCheckpointIO:  # Lightning's default writer
            own = type(self.model) in model_classes().values()  # a checkpoint must then hold this very class
            trainer.strategy.checkpoint_io = AtomicCheckpointIO(type(self.model) if own else None)
        return trainer

    def _parse_ckpt_path(self) -> None:
        """LightningCLI reads the model's arguments from ``--ckpt_path`` into the config. Lightning's own
        version hands the checkpoint's ``hyper_parameters`` to jsonargparse as they are, so a ``class_path``
        key there would choose a module to import and a class to build. Here the file is read and checked by
        `check_checkpoint` first: its model class must be the config's (by name, from textrnn's allow-list),
        and only that class's own arguments, as plain values, reach the config."""
        subcommand = self.config.get("subcommand")
        ckpt_path = self.config[subcommand].get("ckpt_path") if subcommand else None
        if not ckpt_path or not Path(ckpt_path).is_file():
            return
        model = self.config[subcommand].get("model")
        class_path = model.get("class_path") if model is not None else None
        expected = allowed_model(class_path, "the config") if class_path else None
        checked = check_checkpoint(read_checkpoint(ckpt_path), repr(str(ckpt_path)), expected=expected)
        init_args = {k: v for k, v in checked.hparams.items() if k not in LINKED_FROM_DATA}
        model_config = {"class_path": class_path or model_path(checked.model_class), "init_args": init_args}
        self.config = self.parser.parse_object({subcommand: {"model": model_config}}, self.config)

    def _weights_only(self) -> None:
        """Load every ``--ckpt_path`` with ``weights_only=True``: no pickled code runs from a checkpoint."""
        config = self.config_init[self.subcommand]
        if config.get("weights_only") is False:
            raise ValueError("--weights_only false is refused: textrnn checkpoints hold only tensors and plain "
                             "types, so they always load with weights_only=True (see docs/reliability.md, 'Safe loading')")
        config["weights_only"] = True

    before_validate = before_test = before_predict = _weights_only

    # ---- `textrnn predict --output FILE [--input TEXTS]` (see textrnn.callbacks.predictions) -------------

    def _prepare_subcommand_parser(self, klass: type, subcommand: str, **kwargs):
        parser = super()._prepare_subcommand_parser(klass, subcommand, **kwargs)
        if subcommand == "predict":  # only predict writes predictions: fit/validate/test --help stay as they were
            add_prediction_arguments(parser)
        return parser

    def predict(self, model: pl.LightningModule, datamodule: Optional[pl.LightningDataModule] = None, **kwargs):
        """LightningCLI runs this method, when defined, in place of ``trainer.predict``."""
        return run_predict(self.trainer, model, datamodule, self.config["predict"], **kwargs)

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
    """Run the CLI on ``args`` (default: ``sys.argv``) and return it, trainer and model included.

    Raises:
        StoppedBySignal: (a SystemExit of status 130 or 143) SIGINT or SIGTERM stopped the run.
    """
    if args is None:  # `--config textcnn`: the shipped file. Rewrite argv itself: LightningCLI warns when given both
        sys.argv[1:] = resolve_config_names(sys.argv[1:])
    else:
        args = resolve_config_names(args)
    stopper = StopOnSignal()
    try:
        cli = _build_cli(args, stopper)
    except (SystemExit, KeyboardInterrupt):  # Lightning ends a Ctrl+C with sys.exit(1), SIGTERM with SystemExit
        stopper.restore()
        if stopper.signum is None:
            raise
        raise StoppedBySignal(stopper.signum, stopper.step, stopper.saved, stopper.stage) from None
    if stopper.signum is not None:  # it came during the last step or batch, which Lightning lets finish
        raise StoppedBySignal(stopper.signum, None, None, "finished")
    return cli


def _build_cli(args: list[str] | None, stopper: StopOnSignal) -> TextRNNCLI:
    return TextRNNCLI(
        pl.LightningModule,
        pl.LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        auto_configure_optimizers=False,  # the models choose their optimizer by name
        seed_everything_default=42,
        save_config_kwargs={"overwrite": True},
        parser_class=TextRNNArgumentParser,  # bad options and values in one line
        trainer_defaults={"callbacks": [StopOnNonFiniteLoss(), ResumeRNGState(), stopper]},  # added to any config's
        args=args,
    )


def main(args: list[str] | None = None) -> None:
    """Entry point of the ``textrnn`` console command: user errors end in one message, not a traceback."""
    argv = sys.argv[1:] if args is None else list(args)
    if argv[:1] and argv[0] in MORE_SUBCOMMANDS:
        code = importlib.import_module(MORE_SUBCOMMANDS[argv[0]][0]).main(argv[1:])
        if code:
            raise SystemExit(code)
        return
    try:
        run_cli(args)
    except StoppedBySignal as stop:
        sys.stderr.write(f"textrnn: {stop.message}\n")
        raise
    except KeyboardInterrupt:  # Ctrl+C outside a run of the Trainer (parsing, building, between fit and test)
        sys.stderr.write("textrnn: stopped by SIGINT outside a training step; nothing was saved\n")
        raise SystemExit(128 + signal.SIGINT) from None
    except SystemExit:
        if argv[:1] in (["-h"], ["--help"]):  # LightningCLI's help lists its own subcommands only
            more = [f"    {name:<20}{text}" for name, (_, text) in MORE_SUBCOMMANDS.items()]
            sys.stdout.write("\n  Also:\n" + "\n".join(more) + "\n")
        raise
    except (ValueError, OSError, HubUnavailableError, MisconfigurationException) as err:
        if os.environ.get("TEXTRNN_TRACEBACK"):
            raise
        # Escaped: the message may quote a file name or a value read from a file.
        sys.stderr.write(f"textrnn: error: {printable(describe(err))}\n"
                         "(set TEXTRNN_TRACEBACK=1 to see the full traceback)\n")
        raise SystemExit(2) from None
