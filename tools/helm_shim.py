"""A `helm`-compatible command for kpsa's tests and demo, on Helm's own Go SDK.

No helm binary can be downloaded on the machines kpsa is developed and tested
on. The PyPI package `helm-python-sdk==0.2.2` embeds Helm v4.2.3's SDK
(`libhelm_c`); this script puts the subset of the `helm` command line that
kpsa runs in front of it:

    helm template [NAME] CHART [-f FILE]... [--set K=V]... [--set-string K=V]...
                  [-n NS] [--kube-version V] [-a/--api-versions X]...
                  [--include-crds] [--skip-crds] [--no-hooks] [--skip-tests]
    helm dependency build|update CHART
    helm version [--short]

The manifest part of `template` is Helm's own `action.Install` with a client
dry-run, so rendering, sorting, `--kube-version` checks and error text are
Helm's. What the SDK leaves to the CLI is reproduced from Helm's source
(`pkg/cmd/template.go`, `pkg/release/v1/util/manifest_sorter.go`): CRDs first
with `--include-crds`, hooks appended after the manifest in Helm's install
order, the "library charts are not installable" check.

Known gap: Helm applies `--set` onto the already merged map, so `list[1]=x`
editing a list that came from a values file differs here.

Errors are printed as `Error: …` on stderr with exit code 1, like helm.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile

import helm_python as helm
from helm_python import _native

# Helm's InstallOrder (pkg/release/v1/util/kind_sorter.go).
INSTALL_ORDER = [
    "PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange",
    "PodSecurityPolicy", "PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList",
    "ConfigMap", "StorageClass", "PersistentVolume", "PersistentVolumeClaim",
    "CustomResourceDefinition", "ClusterRole", "ClusterRoleList", "ClusterRoleBinding",
    "ClusterRoleBindingList", "Role", "RoleList", "RoleBinding", "RoleBindingList", "Service",
    "DaemonSet", "Pod", "ReplicationController", "ReplicaSet", "Deployment",
    "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress",
    "APIService", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
]
HOOK_EVENTS = {
    "pre-install", "post-install", "pre-delete", "post-delete", "pre-upgrade",
    "post-upgrade", "pre-rollback", "post-rollback", "test", "test-success",
}
# Helm splits rendered templates on this (pkg/release/v1/util/manifest.go).
SEP = re.compile(r"(?:^|\s*\n)---\s*")
USAGE = "usage: helm template [NAME] CHART [flags] | helm dependency build|update CHART | helm version"


class UsageError(Exception):
    pass


def fail(message: str) -> "NoReturn":  # noqa: F821
    sys.stderr.write(f"Error: {message}\n")
    sys.exit(1)


def merge(base: dict, override: dict) -> dict:
    """Deep-merge `override` into `base`: maps merge, anything else replaces."""
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merge(base[key], value)
        else:
            base[key] = value
    return base


def parse_template_args(args: list[str]) -> dict:
    opts = {
        "positional": [], "values": [], "sets": [], "namespace": "default",
        "kube_version": None, "api_versions": [], "include_crds": False,
        "no_hooks": False, "skip_tests": False,
    }
    it = iter(args)
    for arg in it:
        if arg == "--":
            # Everything after `--` is positional, as for Helm's own parser.
            opts["positional"].extend(it)
            break
        key, eq, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")

        def value() -> str:
            if eq:
                return inline
            try:
                return next(it)
            except StopIteration:
                raise UsageError(f"flag needs an argument: {arg}") from None

        if key in ("-f", "--values"):
            opts["values"].append(value())
        elif key == "--set":
            opts["sets"].append(("set", value()))
        elif key == "--set-string":
            opts["sets"].append(("string", value()))
        elif key in ("-n", "--namespace"):
            opts["namespace"] = value()
        elif key == "--kube-version":
            opts["kube_version"] = value()
        elif key in ("-a", "--api-versions"):
            opts["api_versions"].extend(v for v in value().split(",") if v)
        elif key == "--include-crds":
            opts["include_crds"] = True
        elif key == "--skip-crds":
            opts["include_crds"] = False
        elif key == "--no-hooks":
            opts["no_hooks"] = True
        elif key == "--skip-tests":
            opts["skip_tests"] = True
        elif key == "--is-upgrade":
            pass
        elif arg.startswith("-"):
            raise UsageError(f"unknown flag: {arg}")
        else:
            opts["positional"].append(arg)
    if len(opts["positional"]) == 1:
        opts["name"], opts["chart"] = "release-name", opts["positional"][0]
    elif len(opts["positional"]) == 2:
        opts["name"], opts["chart"] = opts["positional"]
    else:
        raise UsageError("helm template takes [NAME] CHART")
    return opts


def user_values(opts: dict) -> dict:
    values: dict = {}
    for path in opts["values"]:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            fail(f"open {path}: {e.strerror.lower() if e.strerror else e}")
        try:
            merge(values, helm.values_from_yaml(text) or {})
        except helm.HelmError as e:
            fail(f"failed to parse {path}: {e}")
    for kind, expr in opts["sets"]:
        try:
            parsed = (helm.parse_set_string if kind == "set" else helm.parse_set_string_values)(expr)
        except helm.HelmError as e:
            fail(f"failed parsing --{'set' if kind == 'set' else 'set-string'} data: {e}")
        merge(values, parsed)
    return values


def hooks(chart: helm.Chart, values: dict, opts: dict) -> list[tuple[str, str]]:
    """Hook documents as (source path, text), in Helm's hook order."""
    rendered = chart.render(values, name=opts["name"], namespace=opts["namespace"], is_install=True)
    found = []
    for path in sorted(rendered):
        if path.endswith("NOTES.txt") or os.path.basename(path).startswith("_"):
            continue
        for doc in SEP.split(rendered[path]):
            if not doc.strip():
                continue
            try:
                obj = helm.values_from_yaml(doc) or {}
            except helm.HelmError:
                continue
            annotations = (obj.get("metadata") or {}).get("annotations") or {}
            events = [e.strip() for e in str(annotations.get("helm.sh/hook", "")).split(",") if e.strip()]
            if not events or not all(e in HOOK_EVENTS for e in events):
                continue
            if opts["skip_tests"] and any(e.startswith("test") for e in events):
                continue
            found.append((path, doc.strip(), str(obj.get("kind", ""))))
    rank = {kind: i for i, kind in enumerate(INSTALL_ORDER)}
    found.sort(key=lambda h: rank.get(h[2], len(INSTALL_ORDER)))
    return [(path, doc) for path, doc, _ in found]


def template(args: list[str]) -> None:
    opts = parse_template_args(args)
    chart_path = opts["chart"]
    try:
        chart = helm.Chart.load(chart_path)
    except helm.HelmError as e:
        fail(str(e))
    if chart.metadata.get("type") == "library":
        fail("library charts are not installable")
    values = user_values(opts)
    install_opts = {"dry_run": "client", "namespace": opts["namespace"], "skip_crds": True,
                    "disable_hooks": True}
    if opts["kube_version"]:
        install_opts["kube_version"] = opts["kube_version"]
    if opts["api_versions"]:
        install_opts["api_versions"] = opts["api_versions"]
    with tempfile.TemporaryDirectory() as home:
        config = helm.Config(kubeconfig_path=os.path.join(home, "missing-kubeconfig"),
                             namespace=opts["namespace"], storage_driver="memory")
        try:
            payload = _native.call_string(
                "helm_install", config._raw(), _native.HANDLE(0), chart._raw(), None,
                opts["name"], json.dumps(values), json.dumps(install_opts))
            release = json.loads(payload)
            hook_docs = [] if opts["no_hooks"] else hooks(chart, values, opts)
        except helm.HelmError as e:
            fail(str(e))
    out = []
    if opts["include_crds"]:
        for crd in chart.crds:
            out.append(f"---\n# Source: {crd['filename']}\n{crd['data']}\n")
    out.append(release.get("manifest", "").strip() + "\n")
    for path, doc in hook_docs:
        out.append(f"---\n# Source: {path}\n{doc}\n")
    sys.stdout.write("".join(out))


def dependency(args: list[str]) -> None:
    args = [a for a in args if a != "--"]
    if len(args) != 2 or args[0] not in ("build", "update"):
        raise UsageError("helm dependency build|update CHART")
    action, chart_dir = args
    try:
        if action == "build" and os.path.exists(os.path.join(chart_dir, "Chart.lock")):
            helm.dependency_build(chart_dir, skip_refresh=True)
        else:
            helm.dependency_update(chart_dir, skip_refresh=True)
    except helm.HelmError as e:
        fail(str(e))


def main(argv: list[str]) -> None:
    try:
        if not argv:
            raise UsageError("no command")
        command, rest = argv[0], argv[1:]
        if command == "template":
            template(rest)
        elif command in ("dependency", "dep"):
            dependency(rest)
        elif command == "version":
            v = helm.helm_sdk_version()
            short = v if v.startswith("v") else f"v{v}"
            print(short if "--short" in rest else f'version.BuildInfo{{Version:"{short}", GitCommit:"", GitTreeState:"", GoVersion:""}}')
        else:
            raise UsageError(f"unknown command {command!r}")
    except UsageError as e:
        sys.stderr.write(f"Error: {e}\n{USAGE}\n")
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1:])
