"""The `leanops` command: a thin Typer adapter over the Workspace.

Commands parse, call the library and format. Errors from the core are printed once, without
a traceback (unless --debug), and become the exit code their type defines.
"""

from __future__ import annotations

import sys

import typer
from rich.markup import escape

from leanops.cli import audit, cost, data, jobs, models, monitor, policy, project, runs, serve, users
from leanops.cli.common import console, state
from leanops.config import mask_credentials
from leanops.errors import LeanopsError

app = typer.Typer(
    name="leanops",
    help="Lean MLOps for small teams: datasets, jobs, runs, models, zones, policy, audit and cost.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
    zone: str | None = typer.Option(
        None, "--zone", "-z", envvar="LEANOPS_ZONE", help="Zone to act in (sandbox, staging, production)."
    ),
    token: str | None = typer.Option(
        None,
        "--token",
        envvar="LEANOPS_TOKEN",
        help="Act with an API token instead of the configured user.",
        show_default=False,
    ),
) -> None:
    state.debug, state.zone, state.token = debug, zone, token


project.register(app)
app.add_typer(users.users_app, name="users")
app.add_typer(users.tokens_app, name="tokens")
app.add_typer(policy.app, name="policy")
app.add_typer(audit.app, name="audit")
app.add_typer(data.app, name="data")
models.register(app)
app.add_typer(runs.app, name="runs")
jobs.register(app)
serve.register(app)
monitor.register(app)
app.add_typer(cost.budget_app, name="budget")
app.add_typer(cost.app, name="cost")


def main() -> None:
    """Entry point: run the app and translate leanops errors into messages and exit codes."""
    try:
        code = app(standalone_mode=False)
    except LeanopsError as exc:
        if state.debug:
            console.print_exception()
        # Messages quote user input: escape it for Rich, and never print a credential.
        console.print(f"[bold red]error:[/] {escape(mask_credentials(exc.message))}", highlight=False)
        if exc.hint:
            console.print(f"[dim]hint:[/] {escape(mask_credentials(exc.hint))}", highlight=False)
        sys.exit(exc.exit_code)
    except typer.Abort:
        console.print("aborted")
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.TyperException as exc:  # a usage error: bad option, unknown choice
        if hasattr(exc, "show"):
            exc.show()
        else:
            console.print(f"[bold red]error:[/] {exc}")
        sys.exit(getattr(exc, "exit_code", 2))
    except Exception as exc:  # a bug of ours: say so plainly, without a traceback unless asked
        if state.debug:
            console.print_exception()
        detail = escape(mask_credentials(f"{type(exc).__name__}: {exc}"))
        console.print(f"[bold red]unexpected error:[/] {detail}", highlight=False)
        console.print("[dim]hint:[/] run again with --debug for the traceback, and report it.", highlight=False)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
