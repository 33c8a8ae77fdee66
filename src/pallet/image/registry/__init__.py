"""The OCI distribution client: pull and push images, bearer-token and basic auth.

Submodules are imported by what needs them (httpx is imported only when a registry is contacted):
``client`` (HTTP, endpoints, errors), ``auth`` (challenges, tokens), ``pull``, ``push``, ``progress``.
"""
