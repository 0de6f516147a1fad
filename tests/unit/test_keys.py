"""Keys: where they come from, and that they never leave in a string."""
from __future__ import annotations

import logging

import pytest

from core.live import keys
from core.live.keys import (
    RedactingFilter,
    install_log_redaction,
    key_status,
    redact,
    register_secret,
    resolve_key,
    resolve_key_with_source,
)


@pytest.fixture
def secrets_file(tmp_path):
    path = tmp_path / ".streamlit" / "secrets.toml"
    path.parent.mkdir()
    path.write_text('OPENAI_API_KEY = "sk-from-secrets-000111"\n'
                    '[anthropic]\napi_key = "sk-ant-from-secrets-222"\n'
                    '[api_keys]\ngemini = "AIzaFromSecrets333444"\n')
    return path


def test_precedence_session_then_environment_then_secrets(secrets_file):
    env = {"OPENAI_API_KEY": "sk-from-env-999888"}
    paths = [secrets_file]
    assert resolve_key_with_source("openai", {"openai": "sk-typed-777666"}, env, paths) == (
        "sk-typed-777666", "session")
    assert resolve_key_with_source("openai", {}, env, paths) == ("sk-from-env-999888", "env")
    assert resolve_key_with_source("openai", {}, {}, paths) == ("sk-from-secrets-000111", "secrets")
    assert resolve_key_with_source("openai", {}, {}, []) == (None, None)


def test_blank_values_fall_through(secrets_file):
    assert resolve_key("openai", {"openai": "  "}, {"OPENAI_API_KEY": ""}, [secrets_file]) == \
        "sk-from-secrets-000111"


def test_every_secrets_shape_and_gemini_alias(secrets_file):
    assert resolve_key("anthropic", None, {}, [secrets_file]) == "sk-ant-from-secrets-222"
    assert resolve_key("gemini", None, {}, [secrets_file]) == "AIzaFromSecrets333444"
    assert resolve_key("gemini", None, {"GOOGLE_API_KEY": "AIzaGoogleAlias55"}, [secrets_file]) == \
        "AIzaGoogleAlias55"
    assert resolve_key("local", None, {}, [secrets_file]) is None


def test_broken_or_missing_secrets_file_means_no_key(tmp_path):
    bad = tmp_path / "secrets.toml"
    bad.write_text("OPENAI_API_KEY = 'unterminated\n")
    assert resolve_key("openai", None, {}, [bad, tmp_path / "absent.toml"]) is None


def test_key_status_names_the_source_never_the_key(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no secrets.toml here
    monkeypatch.setattr(keys, "default_secrets_paths", list)
    for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "LOCAL_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-status-123456")
    status = key_status({"anthropic": "sk-ant-typed-123456"})
    assert status == {"anthropic": "session", "openai": "env", "gemini": None, "local": None}


def test_redact_known_values_and_key_shapes():
    register_secret("plain-secret-without-shape")
    text = ("calls with plain-secret-without-shape and sk-proj-AbC123xyz, "
            "Bearer abcdefghijklmnop, AIzaSyA1234567890abcdef, url?key=XYZ12345&alt=json, "
            "x-api-key: zzzz9999 and task-1234 stays")
    clean = redact(text)
    for secret in ("plain-secret-without-shape", "sk-proj-AbC123xyz", "abcdefghijklmnop",
                   "AIzaSyA1234567890abcdef", "XYZ12345", "zzzz9999"):
        assert secret not in clean
    assert "task-1234 stays" in clean and "&alt=json" in clean
    assert redact(clean) == clean  # idempotent


def test_redact_masked_echo_of_a_key():
    # OpenAI echoes a wrong key as its first 8 characters, stars, and its last 4.
    assert "sk-wrong" not in redact("Incorrect API key provided: sk-wrong**********3921.")


def test_short_values_are_not_treated_as_secrets():
    register_secret("abc")
    assert redact("abc is a word") == "abc is a word"


def test_logging_filter_redacts_messages_args_and_tracebacks(caplog):
    secret = "sk-logged-5566778899"
    logger = logging.getLogger("tradeoff.test.keys")
    handler_records = []

    class Keep(logging.Handler):
        def emit(self, record):
            handler_records.append(self.format(record))

    handler = Keep()
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    try:
        logger.warning("calling with %s", secret)
        try:
            raise RuntimeError(f"boom {secret}")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    joined = "\n".join(handler_records)
    assert secret not in joined and "[redacted]" in joined and "boom" in joined


def test_install_log_redaction_covers_every_logger(caplog):
    install_log_redaction()
    install_log_redaction()  # idempotent
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("openai._base_client").debug("Request options: headers=%s",
                                                       {"Authorization": "Bearer sk-abc-112233445566"})
    assert "sk-abc-112233445566" not in caplog.text and "[redacted]" in caplog.text


def test_base_url_from_secrets_when_the_environment_has_none(tmp_path, monkeypatch):
    from core.live.providers.common import base_url_for

    path = tmp_path / "secrets.toml"
    path.write_text('LOCAL_BASE_URL = "http://127.0.0.1:9999/v1/"\n')
    monkeypatch.setattr(keys, "default_secrets_paths", lambda: [path])
    monkeypatch.delenv("LOCAL_BASE_URL", raising=False)
    assert base_url_for("local") == "http://127.0.0.1:9999/v1"
    monkeypatch.setenv("LOCAL_BASE_URL", "http://127.0.0.1:8888/v1")
    assert base_url_for("local") == "http://127.0.0.1:8888/v1"
    assert base_url_for("local", "http://explicit/v1") == "http://explicit/v1"
