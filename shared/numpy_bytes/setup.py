"""Builds _numpy_bytes against the numpy of the building environment (its headers give the NEP 49 handler API)."""
import numpy
from setuptools import Extension, setup

setup(ext_modules=[Extension("_numpy_bytes", ["_numpy_bytes.c"], include_dirs=[numpy.get_include()])])
