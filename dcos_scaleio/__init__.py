"""dcos-scaleio core: options, the plan model and engine, and the wire types.

Nothing in this package performs I/O at import time, and nothing here imports
``dcos_scaleio.sandbox``: the sandbox is a test and demo world, never a product default.
"""
__version__ = "0.1.0.dev0"
