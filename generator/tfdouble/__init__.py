"""An offline double of the ``oracle/oci`` 7.19 and ``hashicorp/random`` 3.7 Terraform providers.

Real Terraform runs flowstack's stacks against it: the double speaks Terraform's plugin
protocol (tfplugin6 over gRPC, messages from PyPI ``tf``) and serves the real providers'
schemas (``data/schema.json``, made by ``tools/tfdouble_schema.py`` from the providers
themselves), so Terraform's own parser, type checker, ``validation`` blocks, planner and
``ignore_changes`` are what a stack meets. Only the cloud is fake (``cloud``): resources
get deterministic OCIDs, a public IP from 203.0.113.0/24 and fixed timestamps; data
sources list a made-up tenancy's availability domains and Ubuntu images (Minimal ones
included); faults (out of host capacity, an instance needing replacement) are injected
through a JSON file.

A leaf package: it imports nothing from the rest of ``generator``.

Modules: ``runner`` (find terraform, run validate/plan/apply/destroy/output/show with the
double, structured diagnostics), ``server`` (the gRPC provider), ``behaviour`` and
``values`` (plan/apply rules), ``cloud`` (fake values, data sources, faults), ``schema``.

Example::

    from generator.tfdouble.runner import TerraformRun
    with TerraformRun("build/flowspace", {"tenancy_ocid": "ocid1.tenancy.oc1..x", ...}) as run:
        print(run.plan().lines[-1])        # "Plan: 7 to add, 0 to change, 0 to destroy."
"""
