"""dcos-scaleio: a DC/OS CLI plugin and Mesos framework that deploys Dell EMC ScaleIO.

One import namespace, ``dcos_scaleio``. The top-level folders ``cli/``, ``framework/`` and
``sandbox/`` are installed as ``dcos_scaleio.cli``, ``dcos_scaleio.framework`` and
``dcos_scaleio.sandbox`` through ``package_dir``, so nothing generic lands in site-packages.
The sandbox (the emulated Mesos/DC/OS/ScaleIO world) is a test and demo aid: product code never
imports it and shipped binaries leave it out.
"""
from setuptools import setup, find_packages

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


setup(
    name="dcos-scaleio",
    version="0.1.0.dev0",
    description="Deploy and operate Dell EMC ScaleIO on DC/OS and Mesos agents",
    python_requires=">=3.11",
    packages=_packages(),
    package_dir=_package_dirs(),
    include_package_data=True,
    package_data={"dcos_scaleio": ["schema/*.json"]},
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
