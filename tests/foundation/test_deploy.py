from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_check_deploy_under_production_settings_shows_only_warnings_the_readme_justifies() -> None:
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DJANGO_SETTINGS_MODULE": "clv_dashboard.settings.production",
        "DJANGO_SECRET_KEY": "k" * 20 + "-production-secret-key-with-enough-entropy-0123456789",
        "DJANGO_ALLOWED_HOSTS": "equity.example.com",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )
    assert "ERRORS" not in result.stderr, result.stderr
    warnings = set(re.findall(r"\((security\.W\d+|[a-z_]+\.W\d+)\)", result.stderr))
    page = (REPO / "docs" / "deployment.md").read_text()
    section = page.split("### Deployment check", 1)[1].split("\n## ", 1)[0]
    for warning in warnings:
        assert warning in section, f"{warning} is not named and justified in docs/deployment.md"


def test_production_settings_refuse_to_start_without_a_secret_key() -> None:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SECRET_KEY"}
    env.update(DJANGO_SETTINGS_MODULE="clv_dashboard.settings.production", DJANGO_ALLOWED_HOSTS="x")
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_a_bad_partition_count_stops_the_start_with_the_setting_named() -> None:
    env = {**os.environ, "CLV_RECOMPUTE_PARTITIONS": "0"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "CLV_RECOMPUTE_PARTITIONS" in result.stderr and "must be 1 or more, not 0" in result.stderr


def test_docker_compose_file_validates_against_the_compose_specification() -> None:
    tool = shutil.which("check-jsonschema") or str(Path(sys.executable).parent / "check-jsonschema")
    result = subprocess.run(
        [tool, "--builtin-schema", "vendor.compose-spec", str(REPO / "docker-compose.yml")],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_runs_web_worker_beat_postgres_and_redis_from_one_image_with_health_checks() -> None:
    from ruamel.yaml import YAML  # check-jsonschema brings this YAML parser

    compose = YAML(typ="safe").load((REPO / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) >= {"web", "worker", "beat", "postgres", "redis"}
    images = {services[name].get("image") for name in ("web", "worker", "beat")}
    assert len(images) == 1 and None not in images
    assert "gunicorn" in " ".join(services["web"]["command"])
    for name in ("web", "worker", "postgres", "redis"):
        assert "healthcheck" in services[name], name


def test_the_image_has_the_postgresql_client_of_the_compose_server_for_backups() -> None:
    """manage.py backup runs pg_dump, which refuses a server newer than itself."""
    from ruamel.yaml import YAML

    compose = YAML(typ="safe").load((REPO / "docker-compose.yml").read_text())
    major = str(compose["services"]["postgres"]["image"]).partition(":")[2].split(".")[0]
    assert major.isdigit(), "pin the PostgreSQL image to a major version"
    assert f"postgresql-client-{major}" in (REPO / "Dockerfile").read_text()
