"""Roles admin / operator / viewer, granted by Slack user id (U…/W…) or user-group id (S…)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.settings import Settings


class Role(IntEnum):
    NONE = 0
    VIEWER = 1
    OPERATOR = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        return {0: "sem acesso", 1: "leitura", 2: "operador", 3: "administrador"}[self.value]


def resolve_role(
    settings: Settings,
    user_id: str,
    group_members: Callable[[str], Iterable[str]] | None = None,
) -> Role:
    """The highest role the user holds. Everyone is a viewer unless HUB_VIEWERS restricts it.

    `group_members(group_id)` returns the members of a user group (usergroups.users.list);
    without it, groups are ignored.
    """
    for role, ids in (
        (Role.ADMIN, settings.hub_admins),
        (Role.OPERATOR, settings.hub_operators),
        (Role.VIEWER, settings.hub_viewers),
    ):
        for entry in ids:
            if entry == user_id:
                return role
            if (
                group_members is not None
                and entry.startswith("S")
                and user_id in set(group_members(entry))
            ):
                return role
    return Role.NONE if settings.hub_viewers else Role.VIEWER
