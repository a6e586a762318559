"""Whether a plugin distribution was made for this flowy-core: the version-skew check.

A plugin declares the flowy-core versions it supports in its own requirements
(``flowy-core>=0.1,<0.2``). When the entry points are read
(:mod:`flowy.kernel.entrypoints`), each plugin's declared range is compared with
this core's version; a plugin whose range excludes it is reported as
``incompatible`` by the plugin manager (:mod:`flowy.kernel.plugins`) and not
imported, instead of failing later in a way that names nobody.

Both those modules need this, and the entry-point module is imported only when
entry points are read, so the check lives in neither. It imports
:mod:`packaging` only when a plugin declares a range.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib import metadata

#: flowy-core's distribution name: what plugins declare a range of, and what the built-in
#: plugin and its registrations are credited to.
CORE_DISTRIBUTION = "flowy-core"


def core_requirement(dist: metadata.Distribution | None) -> str | None:
    """The flowy-core version range a plugin distribution declares, if any."""
    if dist is None:
        return None
    for req in dist.requires or ():
        head = req.split(";")[0].strip()
        if head.replace("_", "-").lower().startswith(CORE_DISTRIBUTION):
            spec = head[len(CORE_DISTRIBUTION) :].strip()
            return spec or None
    return None


def incompatibility(requires_core: str | None) -> str | None:
    """Why a plugin's declared flowy-core range excludes this core, or None when it fits."""
    if not requires_core:
        return None
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    from flowy.kernel.markers import __version__

    try:
        spec = SpecifierSet(requires_core)
    except InvalidSpecifier:
        return f"declares an unreadable flowy-core requirement {requires_core!r}"
    if spec.contains(__version__, prereleases=True):
        return None
    return (
        f"supports flowy-core {requires_core} but flowy-core {__version__} is installed; "
        "install a version of the plugin made for this core, or a matching flowy-core"
    )
