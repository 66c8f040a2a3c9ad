"""The delivery engine: sending attempts, the worker that claims and records them, wake-ups
across processes, and the live feed of log entries."""
