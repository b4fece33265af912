"""Map the top-level folders into the ``clipzoo`` namespace: ``core/`` -> ``clipzoo.core`` and so on.

Every package under ``domains/`` (a folder with ``__init__.py``) becomes ``clipzoo.domains.<name>``, so a new domain
needs no packaging edit beyond its entry point in pyproject.toml. Nothing installs a generic top-level ``core``.
"""

from pathlib import Path

from setuptools import find_packages, setup

TOP_LEVEL = {"core": "core", "domains": "domains", "registry": "registry", "pipeline": "pipeline", "cli": "cli"}

package_dir = {}
packages = []
for name, folder in TOP_LEVEL.items():
    package_dir[f"clipzoo.{name}"] = folder
    packages.append(f"clipzoo.{name}")
    for sub in find_packages(folder):
        packages.append(f"clipzoo.{name}.{sub}")
        package_dir[f"clipzoo.{name}.{sub}"] = str(Path(folder, *sub.split(".")))

setup(packages=packages, package_dir=package_dir)
