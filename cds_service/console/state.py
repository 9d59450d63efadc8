"""What the console's routes and gate share, built once by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from cds_service.console.advice import FlagPolicy
from cds_service.console.explain import Explainer, engine_trace
from cds_service.console.limits import LoginLimiter
from cds_service.console.pages import Pages
from cds_service.console.session import Sessions
from cds_service.rules.knowledge import CompiledKnowledgeBase
from cds_service.web.body import BodyLimits


@dataclass(frozen=True, slots=True)
class Console:
    """Sessions, the login limiter, the pages and the knowledge base they describe."""

    sessions: Sessions
    limiter: LoginLimiter
    kb: CompiledKnowledgeBase
    pages: Pages
    policy: FlagPolicy
    limits: BodyLimits
    # The explain page's trace: the engine's own (`evaluate --explain`); a seam for tests.
    explainer: Explainer = engine_trace


def build_console(
    token: str,
    kb: CompiledKnowledgeBase,
    *,
    session_minutes: int,
    policy: FlagPolicy,
    limits: BodyLimits,
) -> Console:
    """The console of one app."""
    return Console(
        sessions=Sessions(token, session_minutes * 60),
        limiter=LoginLimiter(),
        kb=kb,
        pages=Pages(kb),
        policy=policy,
        limits=limits,
    )
