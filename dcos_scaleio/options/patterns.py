"""Strict patterns for every value that may reach a host command, a URL or a file.

One place so that the options validator, the plan engine (add-device requests) and the executor
agree on what is acceptable. Every pattern is anchored and excludes shell metacharacters and
whitespace, so a value that passes can be placed in an argv list or a config file as is.
"""
import re

__all__ = [
    "IPV4", "DEVICE_PATH", "HOSTNAME", "SCALEIO_NAME", "SHA256", "URL", "SERVICE_NAME",
    "SECRET_PATH", "is_device_path", "is_ipv4", "is_hostname", "is_scaleio_name",
]

_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
IPV4 = re.compile(rf"^({_OCTET}\.){{3}}{_OCTET}$")
# /dev/... only; components of letters, digits, _ . - ; ".." and empty components are refused
# separately in is_device_path because a regex for that would be unreadable.
DEVICE_PATH = re.compile(r"^/dev/[A-Za-z0-9][A-Za-z0-9_./-]*$")
HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$")
# ScaleIO object names (system, protection domain, storage pool): at most 31 characters.
SCALEIO_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,30}$")
SHA256 = re.compile(r"^[a-f0-9]{64}$")
URL = re.compile(r"^(https?|file)://[^\s\"'\\;|&$`<>(){}]+$")
SERVICE_NAME = re.compile(r"^/?[a-z0-9]([a-z0-9-]*[a-z0-9])?(/[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")
SECRET_PATH = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")


def is_device_path(value) -> bool:
    """True for a plain block device path under /dev with no empty, '.' or '..' component."""
    # fullmatch, not match: '$' also matches before a trailing newline.
    if not isinstance(value, str) or len(value) > 255 or not DEVICE_PATH.fullmatch(value):
        return False
    parts = value.split("/")[2:]
    return all(p not in ("", ".", "..") for p in parts)


def is_ipv4(value) -> bool:
    return isinstance(value, str) and bool(IPV4.fullmatch(value))


def is_hostname(value) -> bool:
    return isinstance(value, str) and len(value) <= 253 and bool(HOSTNAME.fullmatch(value))


def is_scaleio_name(value) -> bool:
    return isinstance(value, str) and bool(SCALEIO_NAME.fullmatch(value))
