"""Code generated from the repository's contracts (proto/contract/errors.json); not part of the API."""
