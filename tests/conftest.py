"""Shared test set-up: make the fixture models importable as `fixture_models:factory`."""
import os
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
warnings.filterwarnings("ignore", message=".*were assigned during export.*")
warnings.filterwarnings("ignore", message=".*was assigned during export.*")
