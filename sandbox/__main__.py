"""``python -m dcos_scaleio.sandbox <world> ...``: run one of the sandbox's worlds in the foreground."""
import sys


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    print("usage: python -m dcos_scaleio.sandbox {mesos|scaleio|demo} ...", file=sys.stderr)
    print("the sandbox worlds are being built; none is available in this build yet", file=sys.stderr)
    return 2 if args else 0


if __name__ == "__main__":
    sys.exit(main())
