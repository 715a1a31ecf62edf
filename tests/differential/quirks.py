"""Known artefacts of docker's reference images that the comparison states explicitly.

Each entry names the case, the exact comparison (``"merged"`` or ``"layer<N>"``; a layer's
entry also applies to that layer's hardlink groups), the paths it concerns and the reason.
Nothing else is ever left out of a comparison; a case not listed here is compared in full.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.differential.hardlinks import Groups
from tests.reference.listing import Entry


@dataclass(frozen=True)
class Quirk:
    reason: str
    # comparison name ("merged", "layer1", ...) -> paths left out of that comparison only
    paths: dict[str, frozenset[str]] = field(default_factory=dict)

    def adjust(self, where: str, entries: dict[str, Entry]) -> dict[str, Entry]:
        skip = self.paths.get(where, frozenset())
        return {p: e for p, e in entries.items() if p not in skip}

    def adjust_groups(self, layers: list[Groups]) -> list[Groups]:
        """Hardlink groups per layer without this quirk's paths of that layer."""
        adjusted = []
        for index, groups in enumerate(layers):
            skip = self.paths.get(f"layer{index}", frozenset())
            kept = (g - skip for g in groups)
            adjusted.append(frozenset(g for g in kept if len(g) > 1))
        return adjusted


NO_QUIRK = Quirk(reason="")


QUIRKS: dict[str, Quirk] = {
    "debian-useradd": Quirk(
        reason=(
            "overlay2 copies a lower file up as soon as it is opened for writing, even when "
            "nothing changes: useradd's lckpwdf() opens the base's /etc/.pwd.lock O_WRONLY, "
            "so docker's RUN layer repeats it with identical content and metadata"
        ),
        paths={"layer1": frozenset({"/etc/.pwd.lock"})},
    ),
    "hardlinks-run": Quirk(
        reason=(
            "overlay2 (without index=on) breaks a hardlink group on copy-up: `ln /h/a /h/later` "
            "copies only /h/a up, so docker's layer leaves /h/b and /h/sub/c behind as a "
            "separate group; a layer that also carries the other links of the group (whose "
            "link count changed) keeps them one inode and is not wrong"
        ),
        paths={"layer2": frozenset({"/h/b", "/h/sub", "/h/sub/c"})},
    ),
}


def adjuster(case: str) -> Quirk:
    return QUIRKS.get(case, NO_QUIRK)
