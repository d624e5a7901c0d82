"""Entry point of the ``dcos-scaleio`` binary (the DC/OS CLI runs it as ``dcos-scaleio scaleio <verb>``).

Only the plugin protocol's self-description is implemented so far; the verbs come with the
operator-API issue.
"""
import sys

from dcos_scaleio import __version__

INFO = "Deploy and manage Dell EMC ScaleIO storage on DC/OS agents"


def main(argv=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["scaleio"]:
        args = args[1:]
    if args in (["--info"], []):
        print(INFO)
        return 0
    if args == ["--version"]:
        print(f"dcos-scaleio {__version__}")
        return 0
    print("dcos-scaleio: no verbs are implemented yet in this build", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
