"""Slicing: mesh to G-code, and the job plan, the one reader of any slicer's G-code (`slicing.plan`)."""
from slicing.job_plan import JobPlan, plan, plan_file

__all__ = ["JobPlan", "plan", "plan_file"]
