"""A local OCI Resource Manager (REST API 20180917) for trying flowstack without an account.

``flowstack emulator`` serves stacks and jobs over real HTTP, verifies every request's OCI
signature against the public keys it was given, runs made-up Terraform jobs (ACCEPTED ->
IN_PROGRESS -> SUCCEEDED/FAILED, logs that grow while they run, outputs from the zip's
``output`` blocks) and can be told to fail the ways the real service does (see `faults`).
The ``oci`` SDK and CLI talk to it unchanged when pointed at its URL::

    client = oci.resource_manager.ResourceManagerClient(
        config, service_endpoint="http://127.0.0.1:8080",
        retry_strategy=oci.retry.NoneRetryStrategy())

Modules: `auth` (signature verification, demo keys), `state` (stacks, jobs, the state
file), `simulate` (what a Terraform run prints and outputs), `faults` (failure
injection), `server` (HTTP, routing, JSON), `process` (start-up handshake, stop),
`run` (the foreground server of `flowstack emulator`), `errors` (its own: a leaf package
imports nothing else of flowstack).
"""
