"""Reachability probes: is a ScaleIO daemon listening where the real one would?

The real MDM talks to SDSs on TCP 7072 and to MDM members on 9011; the gateway talks to the MDM on 6611.
The sandbox's daemons listen on those ports on their agent's 127.x address, so a plain TCP connect tells
whether "the service is running" exactly as the real components find out.
"""
from __future__ import annotations

import ipaddress
import socket

MDM_PORT = 9011          # MDM members, SDS and SDC traffic
MDM_MGMT_PORT = 6611     # management: scli, gateway
SDS_PORT = 7072


def valid_ip(ip: str) -> bool:
    """True for a dotted IPv4 address (the only form ScaleIO 2.x/3.x objects carry here)."""
    try:
        ipaddress.IPv4Address(ip)
    except (ipaddress.AddressValueError, ValueError):
        return False
    return True


def tcp_listening(ip: str, port: int, timeout: float = 1.0) -> bool:
    """True when something accepts a TCP connection on ``ip:port`` within ``timeout`` seconds."""
    try:
        with socket.create_connection((ip, port), timeout=timeout):
            return True
    except OSError:
        return False
