"""A local OCI Resource Manager (REST API 20180917) for trying flowstack without an account.

``flowstack emulator`` serves stacks and jobs over real HTTP, verifies every request's OCI
signature against the public keys it was given, runs made-up Terraform jobs (ACCEPTED ->
IN_PROGRESS -> SUCCEEDED/FAILED, logs that grow while they run, outputs from the zip's
``output`` blocks) and can be told to fail the ways the real service does (see `faults`).
The ``oci`` SDK and CLI talk to it unchanged when pointed at its URL::

    client = oci.resource_manager.ResourceManagerClient(
        config, service_endpoint="http://127.0.0.1:8080",
        retry_strategy=oci.retry.NoneRetryStrategy())

Modules, by concern (README's Layout has the table): `errors` (its own: a leaf package
imports nothing else of flowstack), `auth` (signature verification, demo keys), `faults`
(failure injection); the state: `records` (API errors, times, etags, views), `store` (the
state file, lock, lookups), `progress` (jobs move on with the clock), `stacks`, `jobs`
(``JobsMixin._start_job`` is where a job starts), `operations` (which plan an APPLY
applies), `state` (`EmulatorState`, put together from them); the made-up Terraform:
`tfconfig` (the zip's root module), `tfvalues` (OCIDs, addresses, outputs), `loglines`
(what a run prints), `simulate` (`plan_job`); HTTP: `messages` (Request, Response),
`routes` (the API's routes and handlers), `admin` (``/_emulator/``), `httpd` (server and
request handler), `server` (`EmulatorServer.handle`, where every request comes in);
`process` (start-up handshake, stop), `run` (the foreground server of `flowstack emulator`).
"""
