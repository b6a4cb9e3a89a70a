"""Shared test set-up: make the fixture models importable as `fixture_models:factory`, and verify
the IR after every compression pass in every test (codesign.transforms.compression)."""
import os
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
os.environ["CODESIGN_VERIFY_IR"] = "1"
warnings.filterwarnings("ignore", message=".*were assigned during export.*")
warnings.filterwarnings("ignore", message=".*was assigned during export.*")
