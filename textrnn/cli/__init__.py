"""The ``textrnn`` command line: LightningCLI subcommands (``app``), their one-line errors (``errors``), and
``textrnn classify`` (``classify``)."""


def main(args: "list[str] | None" = None) -> None:
    """The ``textrnn`` entry point (imported lazily, so ``textrnn --help`` pays for Lightning only once;
    ``textrnn --version`` not at all)."""
    import sys

    if (sys.argv[1:] if args is None else list(args)) == ["--version"]:
        from textrnn import __version__

        sys.stdout.write(f"textrnn {__version__}\n")
        return
    from textrnn.cli.app import main as app_main

    app_main(args)
