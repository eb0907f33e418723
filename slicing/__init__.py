"""Slicing: mesh to G-code, and the job plan, the one reader of any slicer's G-code (`slicing.plan`).

The job plan is imported on first use, so `printloop slice` does not load the G-code reader (start-up time)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from slicing.job_plan import JobPlan, plan, plan_file

__all__ = ["JobPlan", "plan", "plan_file"]


def __getattr__(name: str) -> Any:
    """The job plan's names, imported when first asked for."""
    if name in __all__:
        from slicing import job_plan

        return getattr(job_plan, name)
    raise AttributeError(f"module 'slicing' has no attribute {name!r}")
