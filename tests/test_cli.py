"""The printloop command starts, lists its subcommands and reports unknown ones."""
import subprocess
import sys

from controller.cli import build_parser, main
from tests.conftest import REPO


def test_help_runs_as_module():
    out = subprocess.run([sys.executable, "-m", "controller", "--help"], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0
    assert "printloop" in out.stdout


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "usage: printloop" in capsys.readouterr().out


def test_parser_is_built_from_command_modules():
    parser = build_parser()
    assert parser.prog == "printloop"
