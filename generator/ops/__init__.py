"""Operating a deployed stack from the laptop: `status` (usage, egress, idle risk, health) and `doctor` (public ports).

Modules: `telemetry` (Compute/VNIC/Monitoring through the oci SDK), `usage` (figures), `idle`
(reclamation rule), `chart` (terminal, SVG, PNG), `probe` and `stun` (network probes),
`agentssh` (the server agent's state over SSH), `status`, `doctor`, `media` (a real LiveKit client).
"""
