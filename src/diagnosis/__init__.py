"""The reference model: a breast-cancer screening classifier, trained by pipelines/train.yml.

Each step module is a thin command-line shell over pure functions that tests/model/ covers.
"""
