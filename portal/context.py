"""Per-request context (request id) carried through logs, audit records and tasks."""

from contextvars import ContextVar

request_id_var: ContextVar[str] = ContextVar("request_id", default="")
