"""The sandbox: wire-faithful emulators of Mesos, DC/OS and ScaleIO (installed as ``dcos_scaleio.sandbox``).

A test and demo world only. Product code never imports this package, and shipped binaries leave it out.
"""
