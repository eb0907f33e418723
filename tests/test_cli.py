"""The printloop command: its subcommands and their options, and bad input answered in one line with an exit code."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from controller.cli import build_parser, main
from controller.commands import demo, markers, print_, records, serve, sim, slice, verify
from tests.conftest import REPO


def test_help_runs_as_module():
    out = subprocess.run([sys.executable, "-m", "controller", "--help"], check=False, cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0
    assert "printloop" in out.stdout


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "usage: printloop" in capsys.readouterr().out


def test_the_subcommands_are_exactly_the_command_modules(capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["frobnicate"])
    assert exit_.value.code == 2
    assert "(choose from 'demo', 'farm', 'markers', 'print', 'records', 'serve', 'sim', 'slice', 'verify')" in capsys.readouterr().err


EVERY_OPTION = [
    (["slice", "part.stl", "-o", "out.gcode", "--profile", "lab.toml", "--copies", "6", "--set", "support=true",
      "--set", "infill_density=0.3", "--jobs", "3", "--quiet"], slice.run,
     {"model": "part.stl", "output": "out.gcode", "profile": "lab.toml", "copies": 6,
      "overrides": ["support=true", "infill_density=0.3"], "jobs": 3, "quiet": True}),
    (["sim", "--tcp", "5555", "--baud", "250000", "--speed", "max", "--faults", "layer_shift@12=1:0", "--seed", "3",
      "--resolution", "640x480", "--executed-log", "x.jsonl", "--http-port", "8081", "--no-advanced-ok",
      "--rx-buffer", "256", "--bufsize", "8", "--firmware", "prusa", "--link-path", "/tmp/printer",
      "--camera-lag", "1.5", "--camera-behind", "1", "--camera-fps", "10", "--camera-no-timestamp",
      "--bed-slinger"], sim.run,
     {"tcp": 5555, "baud": 250000, "speed": "max", "faults": "layer_shift@12=1:0", "seed": 3, "resolution": "640x480",
      "executed_log": "x.jsonl", "http_port": 8081, "no_advanced_ok": True, "rx_buffer": 256, "bufsize": 8,
      "firmware": "prusa", "link_path": "/tmp/printer",
      "camera_lag": 1.5, "camera_behind": 1, "camera_fps": 10.0, "camera_no_timestamp": True,
      "filament": "orange", "bed": "black", "bed_logo": False, "camera_tilt": None, "shadow": 0.0,
      "light_drift": 0.0, "auto_exposure": 0.0, "head_in_view": False, "bed_slinger": True, "dry_run": None}),
    (["print", "part.gcode", "--port", "/dev/ttyUSB0", "--baud", "250000", "--window", "ok", "--timeout", "5",
      "--json", "--camera", "http://cam/snapshot", "--on-failure", "cancel", "--checks-dir", "checks",
      "--vision-profile", "lab.toml"], print_.run,
     {"file": Path("part.gcode"), "port": "/dev/ttyUSB0", "baud": 250000, "window": "ok", "timeout": 5.0,
      "json": True, "camera": "http://cam/snapshot", "on_failure": "cancel", "checks_dir": Path("checks"),
      "vision_profile": Path("lab.toml")}),
    (["serve", "--config", "printloop.toml", "--host", "0.0.0.0", "--port", "8080", "--log-level", "info"], serve.run,
     {"config": Path("printloop.toml"), "host": "0.0.0.0", "port": 8080, "log_level": "info"}),
    (["markers", "-o", "m.png", "--vision-profile", "p.toml"], markers.run,
     {"out": Path("m.png"), "vision_profile": Path("p.toml")}),
    (["demo", "--model", "3DBenchy.stl", "--copies", "2", "--fault", "clog@3", "--timeout", "60", "--out", "o"],
     demo.run, {"model": "3DBenchy.stl", "copies": 2, "fault": "clog@3", "timeout": 60.0, "out": Path("o")}),
    (["records", "export", "out", "--job", "7", "--config", "lab.toml"], records.run_export,
     {"action": "export", "dir": Path("out"), "job": 7, "config": Path("lab.toml")}),
    (["verify", "out"], verify.run, {"dir": Path("out")}),
]


@pytest.mark.parametrize(("argv", "func", "expected"), EVERY_OPTION, ids=[c[0][0] for c in EVERY_OPTION])
def test_each_subcommand_takes_every_option_it_documents(argv, func, expected):
    args = build_parser().parse_args(argv)
    assert args.command == argv[0]
    assert args.func is func
    assert {k: v for k, v in vars(args).items() if k not in ("command", "func")} == expected


DEFAULTS = [
    (["slice", "part.stl", "-o", "out.gcode"], {"profile": None, "copies": 1, "overrides": [], "jobs": None,
                                                "quiet": False}),
    (["sim"], {"tcp": None, "baud": None, "speed": "1", "faults": "", "seed": 0, "resolution": "1280x960",
               "executed_log": None, "http_port": 0, "no_advanced_ok": False, "rx_buffer": None, "bufsize": None,
               "firmware": "marlin", "link_path": None,
               "camera_lag": 0.0, "camera_behind": 0, "camera_fps": 5.0, "camera_no_timestamp": False}),
              # buffer sizes: the flavour's own
    (["print", "part.gcode", "--port", "socket://h:1"], {"baud": 115200, "window": "window", "timeout": 10.0,
                                                          "json": False, "camera": None, "on_failure": None}),
    (["serve"], {"config": None, "host": "127.0.0.1", "port": 8000, "log_level": "warning"}),
    (["demo"], {"model": "20mm-xyz-cube.stl", "copies": 6, "fault": "spaghetti@6", "timeout": 270.0, "out": None}),
]


@pytest.mark.parametrize(("argv", "expected"), DEFAULTS, ids=[c[0][0] for c in DEFAULTS])
def test_each_subcommand_has_the_documented_defaults(argv, expected):
    args = vars(build_parser().parse_args(argv))
    assert {k: args[k] for k in expected} == expected


@pytest.mark.parametrize("name", ["slice", "sim", "print", "serve", "demo"])
def test_each_subcommand_has_its_own_help(name, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([name, "--help"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: printloop {name} ")


BAD_INPUT = [
    # argparse catches these before anything runs: exit 2 and a usage line
    (["slice", "part.stl"], 2, r"printloop slice: error: the following arguments are required: -o/--output"),
    (["slice", "part.stl", "-o", "x.gcode", "--copies", "two"], 2, r"argument --copies: invalid int value: 'two'"),
    (["print", "part.gcode"], 2, r"printloop print: error: the following arguments are required: --port"),
    (["print", "part.gcode", "--port", "p", "--window", "fast"], 2, r"argument --window: invalid choice: 'fast'"),
    (["serve", "--port", "eighty"], 2, r"argument --port: invalid int value: 'eighty'"),
    (["serve", "--log-level", "loud"], 2, r"argument --log-level: invalid choice: 'loud'"),
    (["sim", "--tcp", "any"], 2, r"argument --tcp: invalid int value: 'any'"),
    (["demo", "--copies", "many"], 2, r"argument --copies: invalid int value: 'many'"),
    # the subcommands' own checks: one line naming the problem
    (["slice", "{tmp}/missing.stl", "-o", "{tmp}/x.gcode", "--quiet"], 1,
     r"^printloop slice: MeshError: .*missing\.stl: file not found$"),
    (["slice", "{models}/20mm-xyz-cube.stl", "-o", "{tmp}/x.gcode", "--set", "nonsense", "--quiet"], 1,
     r"^printloop slice: ProfileError: override 'nonsense' must look like key=value$"),
    (["sim", "--faults", "bogus=1"], 2, r"^printloop sim: FaultSpecError: unknown fault 'bogus=1'; known: "),
    (["sim", "--speed", "fast"], 2, r"^printloop sim: SimOptionError: --speed must be a number > 0 or 'max'"),
    (["sim", "--resolution", "12x"], 2, r"^printloop sim: SimOptionError: --resolution must look like 1280x960"),
    (["print", "{tmp}/missing.gcode", "--port", "loop://"], 1,
     r"^printloop print: ControllerError: G-code file .*missing\.gcode not found$"),
    (["print", "{tmp}/part.gcode", "--port", "/dev/nonexistent-printer"], 1,
     r"^printloop print: TransportError: cannot open serial port '/dev/nonexistent-printer' at 115200 baud"),
    (["print", "{tmp}/part.gcode", "--port", "loop://", "--timeout", "0"], 1,
     r"^printloop print: ConfigError: timeout must be above 0 s"),
    (["serve", "--config", "{tmp}/missing.toml"], 1,
     r"^printloop serve: ConfigError: cannot read config .*missing\.toml: No such file or directory$"),
    (["demo", "--model", "no-such-part.stl", "--out", "{tmp}/demo"], 1,
     r"^printloop demo: ControllerError: --model 'no-such-part.stl': no such mesh in "),
    (["demo", "--copies", "0", "--out", "{tmp}/demo"], 1, r"^printloop demo: ControllerError: --copies must be at least 1"),
    (["demo", "--fault", "spaghetti", "--out", "{tmp}/demo"], 1, r"^printloop demo: FaultSpecError: "),
]


@pytest.mark.parametrize(("argv", "code", "message"), BAD_INPUT, ids=[" ".join(c[0][:2]) + f" ({c[1]})"
                                                                      for c in BAD_INPUT])
def test_bad_input_is_one_clear_line_and_a_nonzero_exit(argv, code, message, tmp_path, capsys):
    (tmp_path / "part.gcode").write_text("G28\n")
    argv = [a.format(tmp=tmp_path, models=REPO.parent / "shared" / "models") for a in argv]
    try:
        got = main(argv)  # an exception escaping here would be a traceback for the user
    except SystemExit as exc:
        got = exc.code
    err = capsys.readouterr().err
    assert got == code
    last = err.strip().splitlines()[-1]
    assert re.search(message, last), err
    if code == 1:
        assert err.count("\n") == 1  # the project's errors are one line
    assert not (tmp_path / "demo").exists()  # the demo checks its options before starting anything


def test_bad_input_in_a_real_process_has_no_traceback(tmp_path):
    out = subprocess.run([sys.executable, "-m", "controller", "print", str(tmp_path / "none.gcode"), "--port",
                          "loop://"], check=False, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert out.stderr == f"printloop print: ControllerError: G-code file {tmp_path / 'none.gcode'} not found\n"
