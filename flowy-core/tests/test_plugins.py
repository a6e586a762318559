"""The plugin manager with real distributions on sys.path (dist-info folders, no pip)."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from flowy.kernel.errors import ComponentNotFoundError, PluginLoadError
from flowy.kernel.plugins import create_plugin_manager


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Install throwaway distributions by writing a module and a dist-info folder."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("FLOWY_HOME", str(tmp_path / "home"))  # the entry-point cache
    created: list[str] = []

    def install(dist: str, module: str, source: str, requires: str = "flowy-core>=0.1") -> None:
        (root / f"{module}.py").write_text(textwrap.dedent(source))
        info = root / f"{dist.replace('-', '_')}-1.2.3.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\nRequires-Dist: {requires}\n"
        )
        (info / "entry_points.txt").write_text(f"[flowy]\n{dist} = {module}\n")
        created.append(module)

    yield install
    for module in created:
        sys.modules.pop(module, None)


GOOD = """
    from flowy import hookimpl

    @hookimpl
    def flowy_register_executors(register):
        register("fancy", "json:JSONDecoder", description="not really an executor")

    @hookimpl
    def flowy_register_stacks(register):
        register(
            "fancy",
            {
                "executor": {"type": "fancy"},
                "metadata_store": {"type": "sqlite"},
                "artifact_store": {"type": "local"},
            },
            description="demo",
        )
"""


def test_entry_point_plugin_is_loaded_with_its_distribution_and_capabilities(site, monkeypatch):
    site("flowy-fancy", "flowy_fancy_plugin", GOOD, requires="flowy-core>=0.1,<0.2")
    monkeypatch.setenv("FLOWY_LOAD_PLUGINS", "flowy-fancy")
    pm = create_plugin_manager()
    info = pm.infos["flowy-fancy"]
    assert (info.distribution, info.version, info.status) == ("flowy-fancy", "1.2.3", "loaded")
    assert info.requires_core == ">=0.1,<0.2"
    reg = pm.registry.get("executor", "fancy")
    assert reg.distribution == "flowy-fancy" and reg.load().__name__ == "JSONDecoder"
    assert info.provides == {"executor": ["fancy"]}
    assert "flowy_register_executors" in info.hooks
    assert pm.registry.stacks["fancy"].distribution == "flowy-fancy"
    # the core's own plugin is registered the same way
    assert pm.infos["flowy-core"].provides["cache"] == ["code_hash", "input_hash"]


def test_a_plugin_that_fails_to_import_is_reported_not_fatal(site, monkeypatch):
    site("flowy-broken", "flowy_broken_plugin", "raise ImportError('missing libfoo')\n")
    site("flowy-fancy", "flowy_fancy_plugin", GOOD)
    monkeypatch.setenv("FLOWY_LOAD_PLUGINS", "flowy-broken,flowy-fancy")
    pm = create_plugin_manager()
    broken = pm.infos["flowy-broken"]
    assert broken.status == "failed" and "ImportError: missing libfoo" in broken.error
    assert pm.registry.get("executor", "fancy")  # others keep working


def test_strict_mode_makes_load_failures_fatal(site, monkeypatch):
    site("flowy-broken", "flowy_broken_plugin", "raise ImportError('missing libfoo')\n")
    monkeypatch.setenv("FLOWY_LOAD_PLUGINS", "flowy-broken")
    monkeypatch.setenv("FLOWY_STRICT_PLUGINS", "1")
    with pytest.raises(PluginLoadError, match="flowy-broken.*missing libfoo.*fatal"):
        create_plugin_manager()


def test_a_raising_registration_hook_is_isolated(site, monkeypatch):
    site(
        "flowy-raises",
        "flowy_raises_plugin",
        """
        from flowy import hookimpl

        @hookimpl
        def flowy_register_executors(register):
            raise RuntimeError("bad config in plugin")
        """,
    )
    site("flowy-fancy", "flowy_fancy_plugin", GOOD)
    monkeypatch.setenv("FLOWY_LOAD_PLUGINS", "flowy-raises,flowy-fancy")
    pm = create_plugin_manager()
    assert pm.registry.get("executor", "fancy")
    info = pm.infos["flowy-raises"]
    assert info.status == "failed" and "bad config in plugin" in info.error


def test_disable_and_load_only_escape_hatches(site, monkeypatch):
    site("flowy-fancy", "flowy_fancy_plugin", GOOD)
    monkeypatch.setenv("FLOWY_DISABLE_PLUGINS", "flowy-fancy")
    pm = create_plugin_manager()
    assert pm.infos["flowy-fancy"].status == "disabled"
    with pytest.raises(ComponentNotFoundError, match="No executor named 'fancy'"):
        pm.registry.get("executor", "fancy")
    monkeypatch.delenv("FLOWY_DISABLE_PLUGINS")
    monkeypatch.setenv("FLOWY_LOAD_PLUGINS", "")
    pm = create_plugin_manager()
    assert all(i.status in ("disabled",) for n, i in pm.infos.items() if n != "flowy-core")


def test_name_clash_names_both_distributions_and_qualified_names_choose(site, monkeypatch):
    site("flowy-fancy", "flowy_fancy_plugin", GOOD)
    site("flowy-other", "flowy_other_plugin", GOOD.replace("JSONDecoder", "JSONEncoder"))
    monkeypatch.setenv("FLOWY_LOAD_PLUGINS", "flowy-fancy,flowy-other")
    pm = create_plugin_manager()
    with pytest.raises(
        ComponentNotFoundError, match="registered by both flowy-fancy and flowy-other"
    ):
        pm.registry.get("executor", "fancy")
    assert pm.registry.get("executor", "flowy-other:fancy").load().__name__ == "JSONEncoder"
    assert len(pm.registry.clashes()) == 1


def test_unknown_component_names_the_distribution_to_install():
    pm = create_plugin_manager(entrypoints=False)
    with pytest.raises(ComponentNotFoundError, match="pip install flowy-aws"):
        pm.registry.get("artifact_store", "s3")
    with pytest.raises(ComponentNotFoundError, match="Unknown component kind 'gpu'"):
        pm.registry.get("gpu", "a100")


def test_trace_prints_hook_calls(site, monkeypatch, capsys):
    site("flowy-fancy", "flowy_fancy_plugin", GOOD)
    monkeypatch.setenv("FLOWY_LOAD_PLUGINS", "flowy-fancy")
    monkeypatch.setenv("FLOWY_TRACE_PLUGINS", "1")
    pm = create_plugin_manager()
    pm.hook.flowy_register_executors(register=lambda *a, **k: None)
    assert "[flowy trace] flowy_register_executors plugins=" in capsys.readouterr().err


def test_listing_entry_points_imports_no_heavy_library():
    import subprocess

    code = (
        "import sys; from flowy.kernel.plugins import create_plugin_manager; "
        "pm = create_plugin_manager(); pm.registry; "
        "heavy = [m for m in ('sqlalchemy', 'numpy', 'pandas', 'torch', 'tensorflow', "
        "'boto3', 'networkx', 'pydantic') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_incompatible_core_range_is_reported_not_loaded(site, monkeypatch):
    site("flowy-future", "flowy_future_plugin", GOOD, requires="flowy-core>=9.0")
    monkeypatch.setenv("FLOWY_LOAD_PLUGINS", "flowy-future")
    pm = create_plugin_manager()
    info = pm.infos["flowy-future"]
    assert info.status == "incompatible"
    assert "supports flowy-core >=9.0 but flowy-core 0.1.0 is installed" in info.error
    assert "flowy_future_plugin" not in sys.modules
    with pytest.raises(ComponentNotFoundError):
        pm.registry.get("executor", "fancy")
