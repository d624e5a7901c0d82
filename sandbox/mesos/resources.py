"""Resource arithmetic in the shape Mesos puts on the wire.

Internally a resource bag is ``{"cpus": 2.0, "mem": 1024.0, "disk": 4096.0, "ports": [(31000, 32000)]}``:
scalars as floats (fixed point, 3 decimals, as Mesos does) and ranges as sorted, merged, inclusive
``(begin, end)`` tuples. Bags belong to one role; callers keep roles apart.
"""

SCALAR_EPS = 0.0005


def _norm_ranges(ranges):
    out = []
    for b, e in sorted((int(b), int(e)) for b, e in ranges):
        if out and b <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((b, e))
    return out


def _sub_ranges(a, b):
    out = []
    for (ab, ae) in a:
        pieces = [(ab, ae)]
        for (bb, be) in b:
            nxt = []
            for (pb, pe) in pieces:
                if be < pb or bb > pe:
                    nxt.append((pb, pe))
                    continue
                if pb < bb:
                    nxt.append((pb, bb - 1))
                if be < pe:
                    nxt.append((be + 1, pe))
            pieces = nxt
        out.extend(pieces)
    return _norm_ranges(out)


def _ranges_contain(a, b):
    return not _sub_ranges(b, a)


def norm(bag):
    """A copy of ``bag`` with rounded scalars, merged ranges, and empty entries dropped."""
    out = {}
    for name, value in bag.items():
        if isinstance(value, list):
            r = _norm_ranges(value)
            if r:
                out[name] = r
        else:
            v = round(float(value), 3)
            if v > SCALAR_EPS:
                out[name] = v
    return out


def add(a, b):
    out = dict(a)
    for name, value in b.items():
        if isinstance(value, list):
            out[name] = _norm_ranges(list(out.get(name, [])) + list(value))
        else:
            out[name] = out.get(name, 0.0) + float(value)
    return norm(out)


def subtract(a, b):
    out = dict(a)
    for name, value in b.items():
        if isinstance(value, list):
            out[name] = _sub_ranges(out.get(name, []), value)
        else:
            out[name] = out.get(name, 0.0) - float(value)
    return norm(out)


def contains(a, b):
    """True when every resource in ``b`` fits in ``a``."""
    for name, value in b.items():
        if isinstance(value, list):
            if not _ranges_contain(a.get(name, []), value):
                return False
        elif float(value) > a.get(name, 0.0) + SCALAR_EPS:
            return False
    return True


def is_empty(bag):
    return not norm(bag)


def parse_flag(text):
    """Parse the ``--resources`` flag form ``cpus:4;mem:8192;ports:[31000-32000]`` (roles ignored)."""
    bag = {}
    for item in filter(None, (s.strip() for s in (text or "").split(";"))):
        name, _, value = item.partition(":")
        name = name.split("(")[0].strip()
        value = value.strip()
        if value.startswith("["):
            ranges = []
            for part in value.strip("[]").split(","):
                if part.strip():
                    b, _, e = part.strip().partition("-")
                    ranges.append((int(b), int(e or b)))
            bag[name] = ranges
        else:
            bag[name] = float(value)
    return norm(bag)


def format_flag(bag):
    parts = []
    for name, value in bag.items():
        if isinstance(value, list):
            parts.append(f"{name}:[" + ",".join(f"{b}-{e}" for b, e in value) + "]")
        else:
            parts.append(f"{name}:{value:g}")
    return ";".join(parts)


def to_proto(bag, role="*", *, refinement=False, allocation_role=None):
    """Wire ``Resource`` list. Statically reserved roles (anything but ``*``) get the old
    ``role`` field, or ``reservations`` for RESERVATION_REFINEMENT frameworks."""
    out = []
    for name, value in norm(bag).items():
        if isinstance(value, list):
            res = {"name": name, "type": "RANGES",
                   "ranges": {"range": [{"begin": b, "end": e} for b, e in value]}}
        else:
            res = {"name": name, "type": "SCALAR", "scalar": {"value": value}}
        if refinement:
            if role != "*":
                res["reservations"] = [{"type": "STATIC", "role": role}]
        else:
            res["role"] = role
        if allocation_role is not None:
            res["allocation_info"] = {"role": allocation_role}
        out.append(res)
    return out


def from_proto(resources):
    """Bag from a wire ``Resource`` list; raises ValueError for malformed entries."""
    bag = {}
    if not isinstance(resources, list):
        raise ValueError("resources must be a list")
    for res in resources:
        if not isinstance(res, dict) or "name" not in res:
            raise ValueError("resource without a name")
        name = res["name"]
        rtype = res.get("type", "SCALAR")
        if rtype == "SCALAR":
            value = float(res.get("scalar", {}).get("value", 0))
            if value < 0:
                raise ValueError(f"negative {name}")
            bag[name] = bag.get(name, 0.0) + value
        elif rtype == "RANGES":
            ranges = [(int(r["begin"]), int(r["end"])) for r in res.get("ranges", {}).get("range", [])]
            bag[name] = _norm_ranges(list(bag.get(name, [])) + ranges)
        else:
            raise ValueError(f"unsupported resource type {rtype}")
    return norm(bag)


def roles_of(resources):
    """The set of roles named by a wire ``Resource`` list (old or refinement format)."""
    roles = set()
    for res in resources or []:
        if res.get("reservations"):
            roles.add(res["reservations"][-1].get("role", "*"))
        else:
            roles.add(res.get("role", "*"))
    return roles
