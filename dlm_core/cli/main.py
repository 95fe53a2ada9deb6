"""The ``dlm`` command line: global options, error handling, subcommands.

Commands are thin: they parse arguments, call one function of the core and
print. Nothing here imports torch; the heavy work is imported inside the
commands that need it.
"""

from __future__ import annotations

import logging
import sys
import traceback
import warnings
from typing import TYPE_CHECKING, Any

import click

from dlm_core import __version__
from dlm_core.errors import DlmError

if TYPE_CHECKING:
    from dlm_core.plugins import PluginInfo

# name -> ("module:attribute", one-line help). The help lives here so that
# `dlm --help` lists the commands without importing any of them.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": (
        "dlm_core.cli.init_cmd:init",
        "Create a new .dlm document with a fresh dlm_id (or give a copy its own: --new-id).",
    ),
    "show": (
        "dlm_core.cli.show_cmd:show",
        "Show a document's sections, adapter versions and staged plans.",
    ),
    "plugins": (
        "dlm_core.cli.plugins_cmd:plugins",
        "List installed plugins, what they register and their status.",
    ),
    "train": (
        "dlm_core.cli.train_cmd:train",
        "Train SFT and preference phases; each writes the next adapter version.",
    ),
    "preference": (
        "dlm_core.cli.preference_cmd:preference",
        "Mine preference pairs from the adapter; list, apply, revert.",
    ),
    "prompt": (
        "dlm_core.cli.prompt_cmd:prompt",
        "Answer a query with the current (or a named) adapter version.",
    ),
    "metrics": (
        "dlm_core.cli.metrics_cmd:metrics",
        "Show recorded training, mining, compare and loop runs.",
    ),
    "compare": (
        "dlm_core.cli.compare_cmd:compare",
        "A/B two adapter versions on held-out prompts.",
    ),
    "export": (
        "dlm_core.cli.export_cmd:export",
        "Export an adapter to hf, gguf, ollama or a dataset.",
    ),
    "doctor": (
        "dlm_core.cli.doctor_cmd:doctor",
        "Show the device, dtypes and batch sizes dlm would use here; --repair fixes a store.",
    ),
    "loop": (
        "dlm_core.cli.loop_cmd:loop",
        "Rounds of mine, apply, preference phase and held-out check; keeps the best version.",
    ),
}


ARGV_KEY = "dlm.argv"
"""Where the root context keeps its arguments (``click.Context.meta``)."""


def command_line() -> str:
    """This invocation as a shell line, ``dlm ...``, however it was invoked (a shell, CliRunner).

    ``sys.argv`` is the outer program's (pytest's, under a test runner), so
    the arguments come from the root context, which kept them.
    """
    import shlex

    ctx = click.get_current_context()
    return shlex.join(["dlm", *ctx.meta.get(ARGV_KEY, sys.argv[1:])])


class DlmGroup(click.Group):
    """Loads subcommands on demand and turns errors into one ``error:`` line."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        """The root context, which keeps the arguments it was given (:func:`command_line`)."""
        given = list(args)
        ctx = super().make_context(info_name, args, parent=parent, **extra)
        ctx.meta[ARGV_KEY] = given
        return ctx

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        entry = COMMANDS.get(name)
        if entry is None:
            return None
        module_name, attribute = entry[0].split(":")
        module = __import__(module_name, fromlist=[attribute])
        command: click.Command = getattr(module, attribute)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, COMMANDS[name][1]) for name in self.list_commands(ctx)])

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except DlmError as exc:
            _fail(ctx, str(exc), exc.exit_code)
        except KeyboardInterrupt:
            click.echo("error: interrupted", err=True)
            ctx.exit(130)
        except Exception as exc:  # a bug (dlm's or a plugin's): say whose; traceback on request
            hint = "" if _verbose(ctx) else " (run with --verbose for the traceback)"
            what = f"{type(exc).__name__}: {_first_line(str(exc))}"
            plugin = _plugin_to_blame(ctx, exc)
            if plugin is not None:
                _fail(
                    ctx,
                    f"{plugin.label} failed: {what}; report it to its author, or block it with "
                    f"DLM_DISABLE_PLUGINS={plugin.name}{hint}",
                    1,
                )
            _fail(ctx, f"unexpected {what}{hint}", 1)


def _plugin_to_blame(ctx: click.Context, exc: BaseException) -> PluginInfo | None:
    """The plugin whose code raised ``exc``, if plugins were loaded by this command."""
    host = getattr(ctx.obj, "_host", None)
    return host.blame(exc) if host is not None else None


def _verbose(ctx: click.Context) -> bool:
    # ctx.params too: an error raised before the App exists must still honour -v.
    return bool(getattr(ctx.obj, "verbose", False) or ctx.params.get("verbose"))


def _first_line(message: str) -> str:
    lines = message.strip().splitlines()
    return lines[0].strip() if lines else ""


def _fail(ctx: click.Context, message: str, code: int) -> None:
    if _verbose(ctx):
        traceback.print_exc()
    click.echo(f"error: {_first_line(message) or 'failed'}", err=True)
    ctx.exit(code)


class _WarningLines(logging.Handler):
    """Prints dlm's own warnings (a plugin that failed to load...) as ``warning: ...`` lines.

    Writes through click at emit time, so it follows whatever stderr is now.
    """

    def __init__(self) -> None:
        super().__init__(logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"warning: {_first_line(record.getMessage())}", err=True)


def _report_warnings(verbose: bool) -> None:
    """One ``warning:`` line per warning, or full debug logging with --verbose."""
    logger = logging.getLogger("dlm_core")
    for handler in [h for h in logger.handlers if isinstance(h, _WarningLines)]:
        logger.removeHandler(handler)  # a second invocation in one process
    if verbose:
        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
    else:
        logger.addHandler(_WarningLines())


LIBRARIES = r"(transformers|peft|trl|accelerate|torch)(\.|$)"


def _quiet_library_deprecations(verbose: bool) -> None:
    """Hide the ML libraries' deprecation warnings about their own internals: a user cannot act on them."""
    if verbose:
        return
    for category in (FutureWarning, DeprecationWarning):
        warnings.filterwarnings("ignore", category=category, module=LIBRARIES)


@click.group(cls=DlmGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="dlm")
@click.option(
    "--home",
    type=click.Path(file_okay=False),
    envvar="DLM_HOME",
    help="dlm's state folder (default $DLM_HOME or ~/.dlm).",
)
@click.option("-v", "--verbose", is_flag=True, help="Show tracebacks and debug logging.")
@click.pass_context
def cli(ctx: click.Context, home: str | None, verbose: bool) -> None:
    """Train a LoRA adapter from a .dlm document, mine preference pairs from it, train again."""
    _report_warnings(verbose)
    _quiet_library_deprecations(verbose)
    from dlm_core.cli.app import make_app

    ctx.obj = make_app(home, verbose)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=argv, prog_name="dlm")


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
