"""The scripts of examples/ run unchanged, as a user runs them: locally, through a tracker,
through a CURVE tracker with keys, and straight to an agent."""
import os
import subprocess
import sys

import pytest

from conftest import SOURCE_DIR, pub

EXAMPLES = SOURCE_DIR / "examples"


def run_example(script, *args, env_extra=None, timeout=240):
    env = dict(os.environ)
    env.update(env_extra or {})
    result = subprocess.run([sys.executable, str(EXAMPLES / script), *map(str, args)],
                            capture_output=True, text=True, timeout=timeout, env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, "%s exited %d:\n%s" % (script, result.returncode, output)
    return output


def test_rfc_local(ferry, tmp_path):
    out = run_example("rfc_local.py", tmp_path)
    assert "with params == without params == wrapper == factory: True" in out
    assert (tmp_path / "cnn.so").exists() and (tmp_path / "cnn_no_params.so.params").exists()


def test_rfc_remote_through_tracker(ferry, tracker, tmp_path):
    out = run_example("rfc_remote.py", "--tracker", tracker.endpoint, "--key", tracker.key,
                      "--work-dir", tmp_path)
    assert "remote == remote without params == wrapper == local: True" in out


def test_rfc_remote_with_keys_from_env(ferry, curve_tracker, tmp_path):
    out = run_example("rfc_remote.py", "--work-dir", tmp_path, env_extra={
        "FERRY_TRACKER": curve_tracker.endpoint,
        "FERRY_KEY": curve_tracker.key,
        "FERRY_IDENTITY": str(curve_tracker.identity),
        "FERRY_TRACKER_KEY": str(curve_tracker.tracker_key),
    })
    assert "remote == remote without params == wrapper == local: True" in out


def test_rfc_remote_direct_agent_with_keys(ferry, curve_agent, keys, tmp_path):
    out = run_example("rfc_remote.py", "--agent", curve_agent.endpoint, "--identity",
                      keys["client"], "--server-key", pub(keys["agent"]), "--work-dir", tmp_path)
    assert "remote == remote without params == wrapper == local: True" in out


def test_timing(ferry, tracker):
    out = run_example("timing.py", "--tracker", tracker.endpoint, "--key", tracker.key)
    assert "local" in out and "remote" in out and "mean" in out


def test_timing_of_a_given_library(ferry, zoo_libs):
    out = run_example("timing.py", zoo_libs["mlp"])
    assert "local    mlp: mean" in out
