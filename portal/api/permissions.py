"""System-role permission classes shared by every app's API."""

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request


class IsSystemAdmin(BasePermission):
    message = "Only system admins may do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated and getattr(request.user, "is_admin", False))


class IsOperator(BasePermission):
    message = "Only operators and system admins may do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated and getattr(request.user, "is_operator", False))


class ReadsAllClusters(BasePermission):
    """Operators, system admins and auditors: read-only views across every cluster and workspace."""

    message = "Only operators, auditors and system admins may see this."

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated
                    and getattr(request.user, "reads_all_clusters", False))
