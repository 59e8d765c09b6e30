"""The ``textrnn`` command line: LightningCLI subcommands (``app``), their one-line errors (``errors``), and
``textrnn classify`` (``classify``)."""


def main(args: "list[str] | None" = None) -> None:
    """The ``textrnn`` entry point (imported lazily, so ``textrnn --help`` pays for Lightning only once)."""
    from textrnn.cli.app import main as app_main

    app_main(args)
