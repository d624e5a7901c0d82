# Replaces PyInstaller's pyi_rth_inspect for the dcos-scaleio CLI only (a user hooks dir takes
# precedence over the built-in rthooks.dat). That hook imports inspect and zipfile and reads
# base_library.zip at EVERY start, to fix inspect.getsourcefile() for frozen tracebacks: about half
# of the binary's start-up CPU, and the CLI never looks up source files. Intentionally empty.
