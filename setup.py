"""setuptools shim for Dataflow's `--setup_file=./setup.py`, which builds an
sdist of this project to install on the workers. All metadata lives in
pyproject.toml; `pip install -e .` does not need this file."""
from setuptools import setup

setup()
