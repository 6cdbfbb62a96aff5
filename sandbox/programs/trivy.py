"""The scan container on ``aquasec/trivy`` (``trivy image --format json … <image>``), simulated:
it reads the image's manifest and config from the registry (``TRIVY_USERNAME``/``TRIVY_PASSWORD``,
``TRIVY_INSECURE``, ``SSL_CERT_FILE`` as Trivy honours them) and reports, as Trivy's JSON report
(SchemaVersion 2) on stdout, the findings the config label ``sandbox.cluster-portal.io/vulnerabilities``
lists (``id:severity:package:installed:fixed`` separated by ``;``); no label, no findings. An image
it cannot read ends with Trivy's ``FATAL	Fatal error	image scan error: …`` and exit 1.
"""

from __future__ import annotations

import json
import time
from typing import Any

from sandbox.programs import repo_is
from sandbox.programs.registry import RegistryError, client_for, parse_reference
from sandbox.programs.runtime import ProgramContext

LABEL = "sandbox.cluster-portal.io/vulnerabilities"
SEVERITIES = ("UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL")


def parse_findings(label: str) -> list[dict[str, Any]]:
    out = []
    for item in label.split(";"):
        parts = item.strip().split(":")
        if len(parts) < 4 or not parts[0]:
            continue
        vid, severity, pkg, installed = parts[:4]
        fixed = parts[4] if len(parts) > 4 else ""
        severity = severity.upper() if severity.upper() in SEVERITIES else "UNKNOWN"
        finding: dict[str, Any] = {"VulnerabilityID": vid, "PkgName": pkg, "InstalledVersion": installed,
                                   "Status": "fixed" if fixed else "affected", "Severity": severity,
                                   "Title": f"{pkg}: {vid} (sandbox finding from the image label)",
                                   "PrimaryURL": f"https://avd.aquasec.com/nvd/{vid.lower()}"}
        if fixed:
            finding["FixedVersion"] = fixed
        out.append(finding)
    return out


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Trivy:
    name = "trivy"

    def matches(self, container: dict[str, Any]) -> bool:
        if not repo_is(str(container.get("image") or ""), "aquasec/trivy"):
            return False
        argv = [str(x) for x in (container.get("command") or []) + (container.get("args") or [])]
        if argv and argv[0] in ("trivy", "/usr/local/bin/trivy"):
            argv = argv[1:]
        return bool(argv) and argv[0] in ("image", "i")

    def run(self, ctx: ProgramContext) -> int:
        argv = ctx.argv
        if argv and argv[0] in ("trivy", "/usr/local/bin/trivy"):
            argv = argv[1:]
        argv = argv[1:]
        opts: dict[str, str] = {}
        positional: list[str] = []
        flags_with_value = {"--format", "-f", "--exit-code", "--scanners", "--severity", "-s", "--timeout",
                            "--output", "-o", "--username", "--password", "--platform"}
        i = 0
        while i < len(argv):
            word = argv[i]
            if word.startswith("-"):
                name, eq, value = word.partition("=")
                if not eq and name in flags_with_value:
                    value = argv[i + 1] if i + 1 < len(argv) else ""
                    i += 1
                opts[name] = value if (eq or name in flags_with_value) else "true"
            else:
                positional.append(word)
            i += 1
        if not positional:
            ctx.out(f"{_now()}\tFATAL\tFatal error\timage name or path is required")
            return 1
        target = positional[-1]
        fmt = opts.get("--format") or opts.get("-f") or "table"
        exit_code = int(opts.get("--exit-code") or 0)
        wanted = {s.strip().upper() for s in (opts.get("--severity") or opts.get("-s") or ",".join(SEVERITIES))
                  .split(",")}
        username = opts.get("--username") or ctx.env.get("TRIVY_USERNAME", "")
        password = opts.get("--password") or ctx.env.get("TRIVY_PASSWORD", "")
        insecure = (opts.get("--insecure") or ctx.env.get("TRIVY_INSECURE", "")).lower() == "true"
        cert = ctx.env.get("SSL_CERT_FILE")
        ca_file = ctx.path(cert) if cert else None
        ref = parse_reference(target)
        auth = (username, password) if username else None
        try:
            manifest, digest, config = self._read(ref.api_host, ref.repository, ref.digest or ref.tag, insecure,
                                                  ca_file if ca_file and ca_file.exists() else None, auth)
        except RegistryError as exc:
            ctx.out(f"{_now()}\tFATAL\tFatal error\timage scan error: scan error: unable to initialize a scan "
                    f"service: unable to initialize an image scan service: unable to find the specified image "
                    f'"{target}" in ["docker" "containerd" "podman" "remote"]: 4 errors occurred:')
            ctx.out("\t* docker error: unable to inspect the image: Cannot connect to the Docker daemon at "
                    "unix:///var/run/docker.sock. Is the docker daemon running?")
            ctx.out("\t* containerd error: failed to initialize a containerd client: containerd socket not found: "
                    "/run/containerd/containerd.sock")
            ctx.out("\t* podman error: unable to initialize Podman client: no podman socket found")
            ctx.out(f"\t* remote error: {exc.message}")
            return 1
        labels = (config.get("config") or {}).get("Labels") or {}
        findings = [f for f in parse_findings(str(labels.get(LABEL) or "")) if f["Severity"] in wanted]
        repo_digest = f"{ref.host}/{ref.repository}@{digest}"
        report: dict[str, Any] = {
            "SchemaVersion": 2, "CreatedAt": _now(), "ArtifactName": target, "ArtifactType": "container_image",
            "Metadata": {"ImageID": manifest["config"]["digest"],
                         "DiffIDs": (config.get("rootfs") or {}).get("diff_ids") or [],
                         "RepoTags": [f"{ref.host}/{ref.repository}:{ref.tag}"] if ref.tag else [],
                         "RepoDigests": [repo_digest], "ImageConfig": config},
        }
        if findings:
            report["Results"] = [{"Target": f"{target} (sandbox)", "Class": "os-pkgs", "Type": "alpine",
                                  "Vulnerabilities": findings}]
        if fmt == "json":
            for line in json.dumps(report, indent=2).splitlines():
                ctx.out(line)
        else:
            ctx.out(f"{target} (sandbox)")
            ctx.out("=" * len(f"{target} (sandbox)"))
            counts = {s: sum(1 for f in findings if f["Severity"] == s) for s in SEVERITIES}
            ctx.out(f"Total: {len(findings)} (" + ", ".join(f"{s}: {n}" for s, n in counts.items()) + ")")
            for f in findings:
                ctx.out(f"{f['PkgName']}\t{f['VulnerabilityID']}\t{f['Severity']}\t{f['InstalledVersion']}\t"
                        f"{f.get('FixedVersion', '')}")
        return exit_code if findings else 0

    @staticmethod
    def _read(host: str, repository: str, reference: str, insecure: bool, ca_file: Any,
              auth: tuple[str, str] | None) -> tuple[dict[str, Any], str, dict[str, Any]]:
        schemes = [client_for(host, insecure=insecure, ca_file=ca_file, auth=auth)]
        if insecure:
            schemes.append(client_for(host, http=True, auth=auth))
        last: RegistryError | None = None
        for client in schemes:
            try:
                manifest, digest, _ = client.image_manifest(repository, reference)
                config = json.loads(client.blob(repository, str(manifest["config"]["digest"])))
                return manifest, digest, config
            except RegistryError as exc:
                last = exc
                if exc.status:  # the registry answered: no other scheme will do better
                    break
        assert last is not None
        raise last
