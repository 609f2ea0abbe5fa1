"""Makes this folder the package `dashboard.lessons` in an install (pyproject's package-dir maps it).

The lessons are edited here, at the top of the checkout, but the installed package must carry
them: as a package, importlib.resources.files("dashboard.lessons") finds the markdown in a wheel
(Community Cloud, `pip install`) and, through setuptools' editable finder, in this folder in an
editable install alike.
"""
