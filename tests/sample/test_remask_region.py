"""The remask-region option: config validation and the CLI flag."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from treediff.errors import ConfigError
from treediff.sample import SamplerConfig
from treediff.sample.config import REMASK_REGIONS
from treediff_cli.app import app


def test_default_is_todays_rule_and_cfg_is_accepted():
    assert SamplerConfig().remask_region == "smallest"
    assert REMASK_REGIONS == ("smallest", "cfg")
    cfg = SamplerConfig(remask_region="cfg")
    assert SamplerConfig.from_dict(cfg.to_dict()).remask_region == "cfg"
    with pytest.raises(ConfigError, match="remask_region"):
        SamplerConfig(remask_region="largest")


@pytest.mark.parametrize("command", ["infill", "repair"])
def test_flag_is_in_the_sampling_commands(command):
    result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "--remask-region" in result.output
