"""CLI commands for tasks (see sinkit.cli.main: every click command in COMMANDS is added)."""

COMMANDS: list = []
