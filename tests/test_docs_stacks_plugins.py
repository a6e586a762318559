"""Documentation that must stay true: every stack command and the plugin kit are documented."""

from __future__ import annotations

from pathlib import Path

from flowy_cli.plugin_new import KINDS
from flowy_cli.stack import stack

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_every_stack_command_is_in_stacks_md():
    text = (DOCS / "stacks.md").read_text()
    missing = [name for name in stack.commands if f"`flowy stack {name}" not in text]
    assert missing == [], f"stack commands missing from docs/stacks.md: {missing}"
    for topic in ("{env:NAME}", "provided_by", "FLOWY_STACK", "--user", "precedence"):
        assert topic in text, topic


def test_plugins_md_covers_writing_testing_publishing_and_every_kind():
    text = (DOCS / "plugins.md").read_text()
    order = [
        text.index(h) for h in ("## Writing", "## Testing", "## Publishing", "## Hook reference")
    ]
    assert order == sorted(order)
    assert all(kind in text for kind in KINDS)
    for name in (
        "CacheStrategyContract",
        "TrackerContract",
        "flowy_run",
        "mock_step",
        "plugins check",
    ):
        assert name in text, name
