"""The ``dcos scaleio`` CLI plugin (installed as ``dcos_scaleio.cli``). Talks to the framework over HTTP only."""
