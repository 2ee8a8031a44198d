"""Collection settings for the whole repository (tests/ and the doctests under src/sinkit)."""

import importlib.util

# The browser app's page module imports Gradio, an optional extra (pip install 'sinkit[app]'):
# without it, its doctests are not collected (tests/test_app_*.py say why they skip).
try:
    _GRADIO = importlib.util.find_spec("gradio.blocks") is not None
except ImportError:
    _GRADIO = False
collect_ignore = [] if _GRADIO else ["src/sinkit/app/ui.py"]
