"""Monitoring: checks over the prediction log, drift against the training profile, alerts."""
