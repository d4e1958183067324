"""gunicorn's entry point for the classic predictor (`gunicorn wsgi:app`), as in the sample."""

from __future__ import annotations

import predictor

app = predictor.app
