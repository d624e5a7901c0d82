"""The sandbox's DC/OS front: what sits in front of a DC/OS cluster's services, on loopback.

- :mod:`.iam`: the identity and access manager (login issuing RS256 ACS tokens, the JWKS).
- :mod:`.adminrouter`: the Admin Router, ONE HTTPS port that authenticates every request (but the
  IAM's open paths) and proxies ``/service/<name>/...``, ``/mesos/...`` and registered prefixes.
- :mod:`.resolvers`: ``name -> base URL`` lookups for ``/service/<name>`` (static, Marathon labels).
- :mod:`.front`: :class:`~.front.DcosFront` puts the IAM and the Admin Router together.
- :mod:`.marathon`: a Marathon that runs apps as real, supervised processes.

Nothing in the product imports this package.
"""
