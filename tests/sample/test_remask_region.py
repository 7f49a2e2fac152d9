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


def test_repair_regions_follow_the_rule():
    from treediff.repairs.statements import statement_regions
    from treediff.validity import check

    code = "def g(n):\n    total = 0\n    for i in range(n):\n        total += i\n        print(total\n    return total\n"
    verdict = check(code, "python")
    data = code.encode()
    small = [data[a:b].decode() for a, b in statement_regions(code, "python", verdict)]
    flow = [data[a:b].decode() for a, b in statement_regions(code, "python", verdict, rule="cfg")]
    assert not any("total = 0" in r for r in small)
    assert any("total = 0" in r for r in flow)  # the write the broken statement reads is remasked with it
