"""What the real image test (`make image-test`, tests/image) cannot see in the Dockerfile.

That test builds the image and runs it, but here on a stand-in base, with podman,
which accepts more than a plain `docker build`. So the Dockerfile itself is read,
with BuildKit's parser, for its base, its layer order and its syntax.
"""

from __future__ import annotations

import dockerfile
import pytest

from tests.support.server import ROOT


@pytest.fixture(scope="module")
def commands() -> list[dockerfile.Command]:
    return list(dockerfile.parse_file(str(ROOT / "Dockerfile")))


def _final_stage(commands: list[dockerfile.Command]) -> list[dockerfile.Command]:
    last_from = max(i for i, command in enumerate(commands) if command.cmd == "FROM")
    return commands[last_from:]


def _index(commands: list[dockerfile.Command], cmd: str, needle: str) -> int:
    for index, command in enumerate(commands):
        if command.cmd == cmd and needle in " ".join(command.value):
            return index
    raise AssertionError(f"no {cmd} {needle!r} in the final stage")


def test_every_stage_is_the_slim_python_311_bookworm_image(
    commands: list[dockerfile.Command],
) -> None:
    args = dict(c.value[0].split("=", 1) for c in commands if c.cmd == "ARG" and "=" in c.value[0])
    bases = [
        c.value[0].replace("${PYTHON_IMAGE}", args["PYTHON_IMAGE"])
        for c in commands
        if c.cmd == "FROM"
    ]
    # The wheels built in the first stage are for the Python of the last one.
    assert bases == ["docker.io/library/python:3.11-slim-bookworm"] * 2


def test_requirements_installed_before_the_code_is_copied(
    commands: list[dockerfile.Command],
) -> None:
    final = _final_stage(commands)
    copy_requirements = _index(final, "COPY", "requirements.txt")
    install = _index(final, "RUN", "pip install")
    copy_code = _index(final, "COPY", "service/")
    assert copy_requirements < install < copy_code
    assert "--no-index" in " ".join(final[install].value)


def test_plain_dockerfile_syntax_for_docker_build_and_cloud_build(
    commands: list[dockerfile.Command],
) -> None:
    # `RUN --mount` and `# syntax=` need BuildKit; podman takes them, a classic builder does not.
    assert not [c.original for c in commands if c.flags and c.cmd == "RUN"]
    assert not (ROOT / "Dockerfile").read_text().startswith("# syntax=")
