"""flowstack: one YAML config to an OCI Resource Manager stack for LiveKit + Socket.IO + Caddy."""

__version__ = "0.1.0"
