"""dcos-scaleio: a DC/OS CLI plugin and Mesos framework that deploys Dell EMC ScaleIO.

One import namespace, ``dcos_scaleio``. The top-level folders ``cli/``, ``framework/`` and
``sandbox/`` are installed as ``dcos_scaleio.cli``, ``dcos_scaleio.framework`` and
``dcos_scaleio.sandbox`` through ``package_dir``, so nothing generic lands in site-packages.
The sandbox (the emulated Mesos/DC/OS/ScaleIO world) is a test and demo aid: product code never
imports it and shipped binaries leave it out.
"""
import os
import shutil

from setuptools import setup, find_packages
from setuptools.command.build_py import build_py

# The options schema has ONE copy in git: the Universe package source. Built distributions carry it
# as dcos_scaleio/schema/config.json (dcos_scaleio.options.schema_path() reads the checkout first).
OPTIONS_SCHEMA = os.path.join("universe", "config.json")

PACKAGE_DIRS = {
    "dcos_scaleio": "dcos_scaleio",
    "dcos_scaleio.cli": "cli",
    "dcos_scaleio.framework": "framework",
    "dcos_scaleio.sandbox": "sandbox",
}


def _packages():
    found = []
    for name, folder in PACKAGE_DIRS.items():
        found.append(name)
        found += [f"{name}.{sub}" for sub in find_packages(folder)]
    return found


def _package_dirs():
    dirs = dict(PACKAGE_DIRS)
    for name, folder in PACKAGE_DIRS.items():
        for sub in find_packages(folder):
            dirs[f"{name}.{sub}"] = f"{folder}/{sub.replace('.', '/')}"
    return dirs


class BuildPyWithSchema(build_py):
    """build_py that also copies the Universe options schema into the built package."""

    def run(self):
        super().run()
        target = os.path.join(self.build_lib, "dcos_scaleio", "schema")
        os.makedirs(target, exist_ok=True)
        shutil.copyfile(OPTIONS_SCHEMA, os.path.join(target, "config.json"))


setup(
    name="dcos-scaleio",
    cmdclass={"build_py": BuildPyWithSchema},
    version="0.1.0.dev0",
    description="Deploy and operate Dell EMC ScaleIO on DC/OS and Mesos agents",
    python_requires=">=3.11",
    packages=_packages(),
    package_dir=_package_dirs(),
    install_requires=[
        "pymesos==0.3.15",
        "http-parser==0.9.0",
        "kazoo>=2.9",
        "requests>=2.31",
        "PyPowerFlex>=1.14",
        "jsonschema>=4",
        "cryptography>=41",
        "PyJWT>=2.8",
        "rich>=13",
    ],
    entry_points={"console_scripts": ["dcos-scaleio=dcos_scaleio.cli.main:main"]},
)
