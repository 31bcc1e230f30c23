"""The provider's policy pack: reviewed = run as a rule of the stack, not a habit (``pulumi preview --policy-pack``).

This folder is the pack (``PulumiPolicy.yaml`` and ``__main__.py``, run by Pulumi's Python language host with
``pulumi-policy``, the ``policy`` extra); :mod:`.rules` holds the rules as pure functions, :mod:`.pack` hands them
to the policy SDK. ``elastic-jobs-policy-pack`` prints this folder's path::

    pulumi preview --policy-pack "$(elastic-jobs-policy-pack)" --policy-pack-config policy.json
"""

from __future__ import annotations

from pathlib import Path

PACK = Path(__file__).resolve().parent
"""The policy pack's folder, as ``--policy-pack`` takes it."""


def main() -> int:
    """``elastic-jobs-policy-pack``: print the pack's folder, for ``pulumi preview --policy-pack``."""
    print(PACK)
    return 0
