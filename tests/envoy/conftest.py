import sys
from pathlib import Path

# The stubs live in generated/; an editable install made before generated/ existed misses them.
try:
    import flowhooks.v1  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "generated"))
