"""``python -m dcos_scaleio.sandbox <world> ...``: run one of the sandbox's worlds in the foreground.

Each world is a module with ``main(argv) -> int``; this file only dispatches, so that importing one
world never pulls in another.
"""
import importlib
import sys

WORLDS = {
    "mesos": "dcos_scaleio.sandbox.mesos.cli",      # the Mesos master/agents emulator
    "scaleio": "dcos_scaleio.sandbox.scaleio.cli",  # a pre-built ScaleIO system, gateway and mirror
    "demo": "dcos_scaleio.sandbox.demo",            # what `make demo` runs
    "up": "dcos_scaleio.sandbox.up",                # the whole world plus the scheduler, supervised
}


def main(argv=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help") or args[0] not in WORLDS:
        print("usage: python -m dcos_scaleio.sandbox {%s} [options]" % "|".join(WORLDS), file=sys.stderr)
        return 0 if args[:1] in (["-h"], ["--help"]) else 2
    try:
        module = importlib.import_module(WORLDS[args[0]])
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("dcos_scaleio.sandbox"):
            raise
        print(f"sandbox world {args[0]!r} is not available in this build ({exc})", file=sys.stderr)
        return 2
    return module.main(args[1:])


if __name__ == "__main__":
    sys.exit(main())
