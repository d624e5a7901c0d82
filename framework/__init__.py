"""The Mesos framework: scheduler and executor adapters around the pure plan engine (installed as ``dcos_scaleio.framework``)."""
