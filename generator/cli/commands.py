"""Which module holds each `flowstack` command, so a run imports only the command it runs.

`flowstack --help` prints the one-line helps below without importing any command module;
`flowstack zip` imports `cli.stack` and what `zip` needs, never the OCI SDK or the emulator.
tests/cli/test_cli_lazy.py proves each line here is the command's own first docstring sentence.

A new command: add its row here (module under generator.cli, attribute, its short help).
"""

from __future__ import annotations

# name -> (module under generator.cli, attribute, one-line help as `--help` lists it)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "init": ("stack", "init_command", "Write a commented starter config to PATH (default stacks/mystack.yaml)."),
    "schema": ("stack", "schema_command", "Print the config's JSON Schema (Draft 2020-12) for editors and CI."),
    "generate": ("stack", "generate_command", "Render CONFIG into a Terraform stack directory (main.tf, variables.tf, ...)."),
    "zip": ("stack", "zip_command", "Render, validate and zip CONFIG for Resource Manager (byte-reproducible)."),
    "validate": ("stack", "validate_command", "Check a config file or a generated stack directory; exit non-zero on any failure."),
    "plan": ("stack", "plan_command", "Print the offline Terraform plan of CONFIG (or a stack directory): what Resource Manager will create."),
    "ports": ("stack", "ports_command", "Print the port policy of CONFIG: port, protocol, source, who needs it, why."),
    "preview": ("stack", "preview_command",
                "Write what the server will receive: cloud-init and the config bundle after templatefile(), and every file they write."),
    "env": ("stack", "env_command", "Print the front end's .env.production block from stack outputs JSON."),
    "cost": ("cost", "cost_command", "Monthly traffic and cost of CONFIG's stack, and the same workload on LiveKit Cloud."),
    "rm-apply": ("rm", "rm_apply_command", "Deploy CONFIG: upload the zip, PLAN, then APPLY that plan and print the outputs."),
    "rm-dedupe": ("rm", "rm_dedupe_command", "Repair a compartment holding several stacks for CONFIG (e.g. from two runs started at once)."),
    "rm-plan": ("rm", "rm_plan_command", "Upload CONFIG's zip to its stack and run a PLAN job; print what would change."),
    "rm-destroy": ("rm", "rm_destroy_command", "Run a DESTROY job on CONFIG's stack, deleting every resource it created."),
    "rm-status": ("rm", "rm_status_command", "Show a job of CONFIG's stack (default: the newest); --follow streams it to the end."),
    "rm-logs": ("rm", "rm_logs_command", "Print the log of a job of CONFIG's stack (default: the newest job)."),
    "rm-outputs": ("rm", "rm_outputs_command", "Print the outputs of the newest succeeded APPLY job of CONFIG's stack."),
    "oci-setup": ("ocisetup", "oci_setup_command", "Create an API signing key pair (RSA 2048, private key 0600) and add its profile to the OCI config."),
    "deploy-key": ("deploykey", "deploy_key_command", "Make a read-only deploy key (Ed25519) for a private app repository cloned over ssh."),
    "rotate-secret": ("rotate", "rotate_secret_command",
                      "Make a new LiveKit API secret at the next deploy: bump livekit.api_secret_version in CONFIG."),
    "status": ("ops", "status_command",
               "The deployed stack now: last apply, instance, CPU/memory, egress this month, idle-reclamation risk, health."),
    "doctor": ("ops", "doctor_command", "Probe every public port a browser and a LiveKit client need; PASS/WARN/FAIL, each with a one-line fix."),
    "emulator": ("emulator", "emulator_command", "Run a local OCI Resource Manager to try the rm-* commands without an OCI account."),
}
