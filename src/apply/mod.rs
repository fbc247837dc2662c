//! Executing a plan: parallel walk of the DAG, waits, per-step persistence, skipped dependents.
