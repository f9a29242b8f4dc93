"""Watching what a deployed model sees: collected production data, drift signals, reports.

Pure parts (`schedule`, `signals`, `report`) import no SDK; `local` reads the state dir.
"""
