from __future__ import annotations

import configparser

import pytest

from tricircle_lb.common.config import ConfigError
from tricircle_lb.jobs import JobsConfig


def parse(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    return parser


def test_defaults_without_a_jobs_section() -> None:
    assert JobsConfig.from_parser(parse("[DEFAULT]\nport = 1\n")) == JobsConfig()
    assert JobsConfig() == JobsConfig(poll_interval=0.5, lease_time=30, max_attempts=30,
                                      backoff_base=0.5, backoff_max=10)


def test_reads_the_jobs_section() -> None:
    config = JobsConfig.from_parser(parse(
        "[jobs]\npoll_interval = 0.1\nlease_time = 5\nmax_attempts = 4\n"
        "backoff_base = 0.2\nbackoff_max = 3\n"))
    assert config == JobsConfig(0.1, 5, 4, 0.2, 3)


@pytest.mark.parametrize("text", ["[jobs]\nmax_attempts = many\n", "[jobs]\nlease_time = 0\n"])
def test_bad_values_are_config_errors(text: str) -> None:
    with pytest.raises(ConfigError):
        JobsConfig.from_parser(parse(text))
