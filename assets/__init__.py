"""Makes this folder the package `dashboard.assets` in an install (pyproject's package-dir maps it).

The bundled data is edited here, at the top of the checkout, but the installed package must
carry it: as a package, importlib.resources.files("dashboard.assets") finds digits.npz in a
wheel (Community Cloud, `pip install`) and, through setuptools' editable finder, in this folder
in an editable install alike.
"""
