"""The GitHub Actions pipeline in docs/ci.md, run here: its steps that build
the program, sweep each shard of the matrix and merge the shards, in the
order the pipeline runs them, each as the runner would (bash -e, the
workflow's env, the matrix value put in). Their merged report is the
unsharded sweep's, byte for byte. The steps that build faultline itself
are what `make test` did before this test."""
import os
import pathlib
import re
import subprocess

import yaml

from conftest import ROOT, cli

WORKFLOW = "# .github/workflows/faultline.yml\n"
# Built already by `make test`; each runner of the pipeline builds them.
BUILT_ALREADY = {"Build faultline", "Build faultline's CLI"}


def workflow():
    text = (ROOT / "docs" / "ci.md").read_text()
    (block,) = [b for b in re.findall(r"^```yaml\n(.*?)^```$", text, re.M | re.S)
                if b.startswith(WORKFLOW)]
    return yaml.safe_load(block)


def run_steps(job, directory, env, matrix=None):
    for step in job["steps"]:
        if "run" not in step or step["name"] in BUILT_ALREADY:
            continue
        script = step["run"]
        for key, value in (matrix or {}).items():
            script = script.replace("${{ matrix.%s }}" % key, str(value))
        assert "${{" not in script, script
        p = subprocess.run(["bash", "-e", "-c", script], cwd=directory, env=env,
                           capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, f"{step['name']}:\n{p.stdout}{p.stderr}"


def test_the_pipeline_merges_its_shards_into_the_unsharded_sweep(tmp_path):
    pipeline = workflow()
    # The runners check out faultline beside the program under test.
    (tmp_path / "faultline").symlink_to(ROOT)
    env = dict(os.environ, **{k: str(v) for k, v in pipeline["env"].items()})
    sweep, merge = pipeline["jobs"]["sweep"], pipeline["jobs"]["merge"]
    assert merge["needs"] == "sweep"
    shards = sweep["strategy"]["matrix"]["shard"]
    assert shards == list(range(1, int(pipeline["env"]["SHARDS"]) + 1))
    # Each matrix job on its own runner; here one after the other in one
    # directory, which is what downloading every shard's artifact gives.
    for shard in shards:
        run_steps(sweep, tmp_path, env, {"shard": shard})
    run_steps(merge, tmp_path, env)
    merged = tmp_path / "sweep.json"
    p = cli("sweep", "--binary", str(tmp_path / "counter"), "--json", str(tmp_path / "whole.json"),
            "--junit", str(tmp_path / "whole.xml"), "--", "1", "1000")
    assert p.returncode == 0, p.stdout + p.stderr
    assert merged.read_bytes() == (tmp_path / "whole.json").read_bytes()
    assert (tmp_path / "sweep.xml").read_bytes() == (tmp_path / "whole.xml").read_bytes()
    assert (tmp_path / "sweep.html").read_text().count("<td style=") == 125
    # The artifacts the jobs upload are there.
    assert sorted(pathlib.Path(tmp_path).glob("shard-*.json")) == [
        tmp_path / f"shard-{i}.json" for i in shards]
