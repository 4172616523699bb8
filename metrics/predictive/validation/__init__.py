"""Holdout validation of the predictive models and the Model check page (maths.py is pure)."""
