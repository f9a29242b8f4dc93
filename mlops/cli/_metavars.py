"""Help shows values as git and az do (`--set KEY=VALUE`, `--port N`, `-v`), not Python types.

typer 0.29 labels every option and argument with its annotation (`<bool>`, `<int>`,
`<list[str]>`, `<path>`). A metavar declared on the option wins; the rest get one here,
once, when the root group is built: flags and counters none, choices `a|b`, paths FILE,
DIR or PATH, numbers N, text TEXT.
"""

from __future__ import annotations

from typing import Any

import typer

_PLAIN = {"str": "TEXT", "int": "N", "float": "NUMBER", "file": "FILE", "dir": "DIR"}
# what an option means, where every command spells it the same way
_BY_NAME = {
    "--env": "ENV",
    "--to": "ENV",
    "--model": "MODEL",
    "--set": "KEY=VALUE",
    "--env-mode": "isolated|current",
    "--name": "NAME",
    "--port": "PORT",
    "--timeout": "MINUTES",
}


def plain_metavars(command: Any, help_names: list[str]) -> None:
    """Give every parameter of `command` and of its subcommands a plain metavar."""
    ctx = typer.Context(command, help_option_names=help_names)
    help_option = command.get_help_option(ctx)
    for param in [*command.params, *([help_option] if help_option is not None else [])]:
        _plain(param, ctx)
    for sub in getattr(command, "commands", {}).values():
        plain_metavars(sub, help_names)


def plain_params(params: list[Any], ctx: typer.Context) -> list[Any]:
    """`params` with plain metavars (typer adds the completion options to the root group
    after building it)."""
    for param in params:
        if param.metavar is None:
            _plain(param, ctx)
    return params


def _plain(param: Any, ctx: typer.Context) -> None:
    if param.param_type_name == "argument":
        # an argument's name is its metavar (PATH, REFERENCE): no second, typed label
        param.display_type_rich = lambda ctx: None
        return
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        param.metavar = param.metavar or ""
        if getattr(param, "count", False):
            param.show_default = False
        return
    if param.metavar is not None:
        return
    named = next((_BY_NAME[o] for o in param.opts if o in _BY_NAME), None)
    choices = getattr(getattr(param, "type_descriptor", None), "is_choice", False)
    if named is not None and not choices:
        param.metavar = named
        return
    label = param.display_type(ctx).strip("<>")
    if label.startswith("list[") and label.endswith("]"):  # a repeatable option
        label = label[len("list[") : -1]
    if choices:  # as typed: table|json
        param.metavar = label
        return
    if label.endswith(" range"):  # numbers with bounds: the bounds are shown beside
        label = label.removesuffix(" range")
    param.metavar = _PLAIN.get(label, label.upper())
