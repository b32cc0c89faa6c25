"""Package layout: ``mer_keras`` plus the top-level ``experiments/`` folder shipped as ``mer_keras.experiments``
(the paper-reproduction TOMLs live where users look for them and load with ``importlib.resources``)."""
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["mer_keras", "mer_keras.*"]) + ["mer_keras.experiments"],
    package_dir={"mer_keras.experiments": "experiments"},
    package_data={"mer_keras.experiments": ["*.toml"]},
)
