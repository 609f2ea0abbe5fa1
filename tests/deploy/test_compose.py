"""deploy/compose.yaml, read as YAML (no Docker engine runs here): what would break a deployment past one
machine. Every service's image or build exists; the app's settings are ones the app reads; the workers
declare the measure resource and the app points at the Ray head; the proxy is sticky and reaches the app's
port; the app's PostgreSQL URL agrees with the db service; the cluster image's Ray is the pinned one."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from dashboard.lab import settings
from dashboard.service import backend

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
VARIABLE = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def env(service: dict) -> dict[str, str]:
    """A service's environment as a dict (compose allows a list of KEY=VALUE too)."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {k: str(v) for k, v in raw.items()}


def resolved(text: str, values: dict[str, str]) -> str:
    """${VAR}, ${VAR:-default} and ${VAR:?message} replaced as compose would with `values` in the shell."""
    def one(m: re.Match) -> str:
        name, op, arg = m.groups()
        return values[name] if name in values else arg if op and "-" in op else ""
    return VARIABLE.sub(one, text)


def command(service: dict) -> list[str]:
    """A service's command as words; `sh -c "a && b"` as the words of its script."""
    cmd = service.get("command") or []
    words = shlex.split(cmd) if isinstance(cmd, str) else list(cmd)
    return shlex.split(words[2]) if words[:2] == ["sh", "-c"] else words


def starts(words: list[str], *prefix: str) -> bool:
    """Whether the command runs `prefix` (at its start, or after `&&` or `exec`)."""
    n = len(prefix)
    return any(tuple(words[i:i + n]) == prefix and (i == 0 or words[i - 1] in ("&&", "exec"))
               for i in range(len(words)))


def flag(cmd: list[str], name: str) -> str | None:
    """The value of --name=value or --name value in a command line."""
    for i, word in enumerate(cmd):
        if word.startswith(f"{name}="):
            return word.split("=", 1)[1]
        if word == name and i + 1 < len(cmd):
            return cmd[i + 1]
    return None


def ray_services(services: dict) -> tuple[str, list[str]]:
    """The head and the measuring workers (Ray nodes that are neither the head nor an app replica's own node)."""
    nodes = [n for n, s in services.items() if starts(command(s), "ray", "start")]
    heads = [n for n in nodes if starts(command(services[n]), "ray", "start", "--head")]
    apps = [n for n, s in services.items() if starts(command(s), "train-infer-lab", "app")]
    assert len(heads) == 1, f"one Ray head, found {heads}"
    return heads[0], [n for n in nodes if n not in heads and n not in apps]


def test_every_service_has_an_image_or_a_build_that_exists(services):
    for name, service in services.items():
        assert "image" in service or "build" in service, f"{name}: neither image nor build"
        build = service.get("build")
        if build is None:
            image = service["image"]
            assert re.fullmatch(r"[\w./-]+:[\w.-]+", image), f"{name}: pin the image's tag ({image})"
            continue
        context = (DEPLOY / (build if isinstance(build, str) else build.get("context", "."))).resolve()
        assert context.is_dir(), f"{name}: build context {context} does not exist"
        dockerfile = context / (build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile")
        assert dockerfile.is_file(), f"{name}: {dockerfile} does not exist"


def test_the_cluster_image_is_the_apps_image_with_the_pinned_ray(services):
    """deploy/Dockerfile.cluster builds FROM the repository's image (the tag the README builds) and installs
    the Ray of pyproject's `ray` extra: a node with another Ray is refused by the cluster."""
    built = {s["build"]["dockerfile"]: s["build"] for s in services.values() if isinstance(s.get("build"), dict)}
    assert list(built) == ["deploy/Dockerfile.cluster"], built
    text = (DEPLOY / "Dockerfile.cluster").read_text()
    default = re.search(r"^ARG APP_IMAGE=(\S+)", text, re.M).group(1)
    assert re.search(r"^FROM \$\{APP_IMAGE\}", text, re.M)
    assert built["deploy/Dockerfile.cluster"]["args"]["APP_IMAGE"] == default
    assert (ROOT / "Dockerfile").is_file()
    readme = (ROOT / "README.md").read_text()
    assert f"docker build -t {default.removesuffix(':latest')} ." in readme, "the README builds the image it names"
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    pin = next(d for d in extras["ray"] if d.startswith("ray"))
    assert f'pip install "{pin}"' in text, f"Dockerfile.cluster installs {pin}"


def test_environment_variables_are_ones_the_app_reads(services):
    read = {settings.PREFIX + name for name in settings._VARS} | {backend.ADDRESS_VARIABLE}
    used = {k for s in services.values() for k in env(s) if k.startswith(settings.PREFIX)}
    assert used, "the app's settings are set somewhere"
    assert used <= read, f"not read by the app (a typo is silently ignored): {sorted(used - read)}"


def cpus_limit(service: dict) -> float | None:
    """The service's deploy.resources.limits.cpus, if set."""
    cpus = (((service.get("deploy") or {}).get("resources") or {}).get("limits") or {}).get("cpus")
    return None if cpus is None else float(cpus)


def test_the_apps_settings_pass_the_apps_own_checks(services, monkeypatch):
    """Each setting as settings.load judges it (a check's truthy result passes, a phrase or a falsy one
    fails); THREADS against the measuring workers' cpus limit (the jobs run there), not this machine's CPUs;
    the Ray address through backend.address()."""
    values = {"LAB_DB_PASSWORD": "pw", "LAB_PRESENTER_KEY": "a-long-key", "RAY_AUTH_TOKEN": "t" * 64}
    _, workers = ray_services(services)
    checked = []
    for name, value in env(services["app"]).items():
        key = name.removeprefix(settings.PREFIX)
        text = resolved(value, values)
        if name == backend.ADDRESS_VARIABLE:
            monkeypatch.setenv(name, text)
            assert backend.address() == text.strip(), f"{name}={value!r} is read as no cluster"
            checked.append(name)
        elif name.startswith(settings.PREFIX) and key in settings._VARS:
            var = settings._VARS[key]
            parsed = var.parse(text)
            if key == "THREADS":
                limits = [c for c in (cpus_limit(services[w]) for w in workers) if c is not None]
                ok = parsed >= 1 and all(parsed <= c for c in limits)
            else:
                result = var.check(parsed)
                ok = not isinstance(result, str) and bool(result)
            assert ok, f"{name}={value!r} is refused by the app"
            checked.append(name)
    assert checked, "no setting of the app was checked"


def test_workers_declare_one_measure_place_and_the_head_none(services):
    head, workers = ray_services(services)
    assert workers, "at least one measuring worker"
    for name in workers:
        declared = json.loads(flag(command(services[name]), "--resources") or "{}")
        assert declared.get("measure", 0) >= 1, f"{name} declares no measure place: jobs would never run there"
    head_cmd = command(services[head])
    assert "measure" not in (flag(head_cmd, "--resources") or ""), "the head measures nothing"
    assert flag(head_cmd, "--num-cpus") == "0", "the head takes no tasks"


def test_the_app_and_the_workers_point_at_the_head(services):
    head, workers = ray_services(services)
    port = flag(command(services[head]), "--port") or "6379"
    assert env(services["app"])[backend.ADDRESS_VARIABLE] == f"{head}:{port}"
    # a driver needs a Ray node on its machine: the replica joins first, as a node that takes no job
    app = command(services["app"])
    assert starts(app, "ray", "start") and flag(app, "--address") == f"{head}:{port}"
    assert app.index("ray") < app.index("train-infer-lab"), "the node is up before the app's first job"
    assert flag(app, "--num-cpus") == "0" and flag(app, "--resources") is None, "no job runs beside the app"
    for name in workers:
        assert flag(command(services[name]), "--address") == f"{head}:{port}"
        assert head in (services[name].get("depends_on") or [])


def test_every_ray_process_shares_one_auth_token(services):
    head, workers = ray_services(services)
    for name in [head, *workers, "app"]:
        e = env(services[name])
        assert e.get("RAY_AUTH_MODE") == "token", name
        m = VARIABLE.fullmatch(e.get("RAY_AUTH_TOKEN", ""))
        assert m and m.group(1) == "RAY_AUTH_TOKEN", f"{name}: the token from the one variable"


def test_the_proxy_is_sticky_by_cookie_and_reaches_the_apps_port(services):
    proxy = services["proxy"]
    mounts = [v.split(":") for v in proxy["volumes"]]
    caddyfile = next(DEPLOY / src for src, dst, *_ in mounts if dst == "/etc/caddy/Caddyfile")
    text = caddyfile.read_text()
    assert re.search(r"^\s*lb_policy cookie\b", text, re.M), "sticky sessions: Streamlit's session lives in one replica"
    assert re.search(r"^\s*name app$", text, re.M) and "app" in services
    app_port = flag(command(services["app"]), "--server.port")
    assert re.search(rf"^\s*port {app_port}$", text, re.M), f"the proxy reaches the app on {app_port}"
    assert str(app_port) in [str(p) for p in services["app"].get("expose", [])]
    assert (services["app"].get("deploy") or {}).get("replicas", 1) >= 2, "more than one replica"


def test_the_apps_database_url_matches_the_db_service(services):
    values = {"LAB_DB_PASSWORD": "s3cret"}
    url = urlsplit(resolved(env(services["app"])["TRAIN_INFER_LAB_DATABASE_URL"], values))
    db = env(services["db"])
    assert url.scheme == "postgresql+psycopg", "psycopg 3 is the driver the app installs"
    assert url.hostname in services and services[url.hostname]["image"].startswith("postgres:")
    assert url.port == 5432
    assert url.username == db["POSTGRES_USER"]
    assert url.password == resolved(db["POSTGRES_PASSWORD"], values)
    assert url.path.lstrip("/") == db["POSTGRES_DB"]
    assert "db" in services["app"]["depends_on"]


def test_secrets_come_from_the_shell_and_are_required(services):
    """No password, key or token written in the file; a missing one stops `compose up` with its message."""
    text = COMPOSE.read_text()
    for variable in ("LAB_DB_PASSWORD", "LAB_PRESENTER_KEY", "RAY_AUTH_TOKEN"):
        assert re.search(rf"\$\{{{variable}:\?", text), variable
    secret = re.compile(r"PASSWORD|KEY|TOKEN|SECRET")
    checked = 0
    for name, service in services.items():
        for key, value in env(service).items():
            if secret.search(key.upper()):
                m = VARIABLE.fullmatch(value)
                assert m and m.group(2) == ":?", f"{name}: {key} must be exactly ${{VAR:?message}}, not {value!r}"
                checked += 1
    assert checked, "no secret found in any service's environment"
