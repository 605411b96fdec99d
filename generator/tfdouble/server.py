"""The tfplugin6 gRPC server: Terraform talks to this exactly as to the real provider.

Terraform starts the provider executable (``terraform-provider-oci`` in the dev_overrides
directory, a launcher written by ``runner``), reads go-plugin's handshake line from its
stdout (``1|6|unix|<socket>|grpc|<server cert>``) and calls the Provider service over TLS.
The protobuf messages are the ``tf`` package's generated tfplugin6 ones (PyPI ``tf``,
MIT); the servicer is our own because ``tf``'s high-level API offers only SET and SINGLE
nesting, while the real schemas need LIST (see facts.md §8).

The OCI double answers with ``legacy_type_system`` set, as the real oracle/oci (an SDKv2
provider) does; the random double (a plugin-framework provider) does not.

Example (what the launcher runs)::

    python -m generator.tfdouble oci
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import sys
import tempfile
import threading
import traceback
from concurrent import futures
from typing import Any

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from tf.gen import grpc_controller_pb2 as controller_pb
from tf.gen import grpc_controller_pb2_grpc as controller_rpc
from tf.gen import tfplugin_pb2 as pb
from tf.gen import tfplugin_pb2_grpc as rpc
from tf.utils import read_dynamic_value, to_dynamic_value

from .behaviour import Cloud, ProviderError
from .cloud import load_faults
from .schema import ProviderSchema, load_schemas, schema_to_pb

DEFAULT_REGION = "us-ashburn-1"


def _diag(summary: str, detail: str = "", error: bool = True) -> pb.Diagnostic:
    return pb.Diagnostic(severity=pb.Diagnostic.ERROR if error else pb.Diagnostic.WARNING, summary=summary, detail=detail)


def _path(steps: list[Any]) -> pb.AttributePath:
    out = []
    for s in steps:
        if isinstance(s, tuple):
            out.append(pb.AttributePath.Step(element_key_string=s[0]) if isinstance(s[0], str)
                       else pb.AttributePath.Step(element_key_int=s[0]))
        else:
            out.append(pb.AttributePath.Step(attribute_name=s))
    return pb.AttributePath(steps=out)


class DoubleServicer(rpc.ProviderServicer):
    """The Provider service for one provider (``oci`` or ``random``)."""

    def __init__(self, schema: ProviderSchema, stop: threading.Event) -> None:
        self.schema = schema
        self.stop = stop
        self.legacy = schema.short == "oci"
        self.cloud = Cloud(schema, DEFAULT_REGION, load_faults())
        # Replacements: when applying a replacement, Terraform destroys the old object, then
        # creates the new one, in one provider process. The create is seeded with the destroyed
        # object's id, so the new object gets a new OCID (as a new launch does in OCI) and stays
        # deterministic. (create_before_destroy creates first: that new object keeps the old seed.)
        self._destroyed: dict[tuple[str, Any], str] = {}
        self._lock = threading.Lock()

    def GetMetadata(self, request: Any, context: Any) -> Any:
        return pb.GetMetadata.Response(
            server_capabilities=pb.ServerCapabilities(plan_destroy=True, get_provider_schema_optional=True),
            resources=[pb.GetMetadata.ResourceMetadata(type_name=t) for t in self.schema.resources],
            data_sources=[pb.GetMetadata.DataSourceMetadata(type_name=t) for t in self.schema.data_sources],
        )

    def GetProviderSchema(self, request: Any, context: Any) -> Any:
        return pb.GetProviderSchema.Response(
            provider=schema_to_pb(self.schema.provider),
            provider_meta=pb.Schema(block=pb.Schema.Block()),
            resource_schemas={t: schema_to_pb(s) for t, s in self.schema.resources.items()},
            data_source_schemas={t: schema_to_pb(s) for t, s in self.schema.data_sources.items()},
            server_capabilities=pb.ServerCapabilities(plan_destroy=True, get_provider_schema_optional=True),
        )

    def GetFunctions(self, request: Any, context: Any) -> Any:
        return pb.GetFunctions.Response()

    def ValidateProviderConfig(self, request: Any, context: Any) -> Any:
        return pb.ValidateProviderConfig.Response()

    def ValidateResourceConfig(self, request: Any, context: Any) -> Any:
        return pb.ValidateResourceConfig.Response()

    def ValidateDataResourceConfig(self, request: Any, context: Any) -> Any:
        return pb.ValidateDataResourceConfig.Response()

    def ConfigureProvider(self, request: Any, context: Any) -> Any:
        config = read_dynamic_value(request.config) or {}
        region = config.get("region")
        if isinstance(region, str) and region:
            self.cloud.region = region
        return pb.ConfigureProvider.Response()

    def UpgradeResourceState(self, request: Any, context: Any) -> Any:
        state = json.loads(request.raw_state.json) if request.raw_state.json else None
        return pb.UpgradeResourceState.Response(upgraded_state=to_dynamic_value(state))

    def ReadResource(self, request: Any, context: Any) -> Any:
        current = read_dynamic_value(request.current_state)
        new = self.cloud.read(request.type_name, current) if current is not None else None
        return pb.ReadResource.Response(new_state=to_dynamic_value(new), private=request.private)

    def PlanResourceChange(self, request: Any, context: Any) -> Any:
        prior = read_dynamic_value(request.prior_state)
        proposed = read_dynamic_value(request.proposed_new_state)
        if proposed is None:  # destroy: nothing to plan
            return pb.PlanResourceChange.Response(planned_state=request.proposed_new_state, legacy_type_system=self.legacy)
        planned, replace = self.cloud.plan(request.type_name, prior, proposed)
        return pb.PlanResourceChange.Response(
            planned_state=to_dynamic_value(planned),
            requires_replace=[_path(p) for p in replace],
            legacy_type_system=self.legacy,
        )

    def ApplyResourceChange(self, request: Any, context: Any) -> Any:
        prior = read_dynamic_value(request.prior_state)
        planned = read_dynamic_value(request.planned_state)
        R = pb.ApplyResourceChange.Response
        try:
            if planned is None:
                if prior is not None and isinstance(prior.get("id"), str):
                    with self._lock:
                        self._destroyed[(request.type_name, prior.get("display_name"))] = prior["id"]
                return R(new_state=to_dynamic_value(None), legacy_type_system=self.legacy)
            if prior is None:
                with self._lock:
                    replaces = self._destroyed.pop((request.type_name, planned.get("display_name")), None)
                new = self.cloud.create(request.type_name, planned, replaces=replaces)
            else:
                new = self.cloud.update(request.type_name, planned)
        except ProviderError as exc:
            return R(new_state=request.prior_state, diagnostics=[_diag(str(exc))], legacy_type_system=self.legacy)
        return R(new_state=to_dynamic_value(new), legacy_type_system=self.legacy)

    def ReadDataSource(self, request: Any, context: Any) -> Any:
        config = read_dynamic_value(request.config)
        state = self.cloud.read_data(request.type_name, config)
        return pb.ReadDataSource.Response(state=to_dynamic_value(state))

    def ImportResourceState(self, request: Any, context: Any) -> Any:
        return pb.ImportResourceState.Response(diagnostics=[_diag("Import is not supported by the flowstack offline double")])

    def StopProvider(self, request: Any, context: Any) -> Any:
        self.stop.set()
        return pb.StopProvider.Response()


class _Controller(controller_rpc.GRPCControllerServicer):
    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop

    def Shutdown(self, request: Any, context: Any) -> Any:
        self.stop.set()
        return controller_pb.Empty()


def _server_certificate() -> tuple[bytes, bytes, bytes]:
    """(DER cert for the handshake, PEM cert, PEM key): go-plugin pins this self-signed cert."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                                     data_encipherment=False, key_agreement=True, key_cert_sign=True, crl_sign=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH,
                                              x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.DER), cert.public_bytes(serialization.Encoding.PEM), key_pem


def _log_errors() -> grpc.ServerInterceptor:
    class Interceptor(grpc.ServerInterceptor):
        def intercept_service(self, continuation: Any, details: Any) -> Any:
            try:
                return continuation(details)
            except Exception:  # a bug in the double: show it in Terraform's log, not silently
                traceback.print_exc(file=sys.stderr)
                raise
    return Interceptor()


def serve(short: str) -> int:
    """Run provider ``short`` (``oci``/``random``) until Terraform stops it.

    Example::

        serve("oci")   # prints go-plugin's handshake line, then serves
    """
    if os.environ.get("TF_PLUGIN_MAGIC_COOKIE") is None:
        print("This is a Terraform provider plugin (flowstack offline double); Terraform starts it.", file=sys.stderr)
        return 1
    schema = load_schemas()[short]
    stop = threading.Event()
    servicer = DoubleServicer(schema, stop)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), interceptors=[_log_errors()])
    rpc.add_ProviderServicer_to_server(servicer, server)
    controller_rpc.add_GRPCControllerServicer_to_server(_Controller(stop), server)
    der, cert_pem, key_pem = _server_certificate()
    with tempfile.TemporaryDirectory(prefix="tfdouble-") as tmp:
        sock = os.path.join(tmp, "plugin.sock")
        server.add_secure_port(f"unix://{sock}", grpc.ssl_server_credentials([(key_pem, cert_pem)]))
        server.start()
        cert = base64.b64encode(der).decode().rstrip("=")
        print(f"1|6|unix|{sock}|grpc|{cert}", flush=True)
        stop.wait()
        server.stop(grace=0.5)
    return 0
