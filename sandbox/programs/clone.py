"""The clone init container (``alpine/git`` running the portal's CLONE_SCRIPT), simulated by its
environment: a real ``git clone --depth=1 --branch "$GIT_REF" -- "$GIT_URL" /workspace/src``.

The script in the pod is::

    set -eu
    git config --global credential.helper '!f() { … echo "username=${GIT_USERNAME}" … }; f'
    git clone --depth=1 --branch "$GIT_REF" -- "$GIT_URL" /workspace/src
    git -C /workspace/src rev-parse HEAD | tee /dev/termination-log

The sandbox runs git itself (argv as a list, never a shell); credentials reach git through
``GIT_ASKPASS`` (a helper reading them from the environment), never the URL or the log. Git's
own words and exit code (128) come out on failure; the HEAD SHA is the termination message.
"""

from __future__ import annotations

import stat
import sys
from typing import Any

from sandbox.programs import env_names, repo_is
from sandbox.programs.runtime import ProgramContext, host_env

ASKPASS = """#!{python}
import os, sys
prompt = sys.argv[1] if len(sys.argv) > 1 else ""
key = "GIT_USERNAME" if prompt.lower().startswith("username") else "GIT_PASSWORD"
sys.stdout.write(os.environ.get(key, "") + "\\n")
"""


class Clone:
    name = "clone"

    def matches(self, container: dict[str, Any]) -> bool:
        if not repo_is(str(container.get("image") or ""), "alpine/git"):
            return False
        words = " ".join(str(x) for x in (container.get("command") or []) + (container.get("args") or []))
        return "git clone" in words and "GIT_URL" in env_names(container)

    def run(self, ctx: ProgramContext) -> int:
        for var in ("GIT_URL", "GIT_REF"):
            if var not in ctx.env:
                ctx.out(f"sh: {var}: parameter not set")
                return 2
        url, ref = ctx.env["GIT_URL"], ctx.env["GIT_REF"]
        home = ctx.path("/root")
        home.mkdir(parents=True, exist_ok=True)
        dest = ctx.path("/workspace/src")
        dest.parent.mkdir(parents=True, exist_ok=True)
        extra = {"HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0"}
        if ctx.env.get("GIT_USERNAME"):
            helper = ctx.rootfs / "usr/local/bin/git-askpass"
            helper.parent.mkdir(parents=True, exist_ok=True)
            helper.write_text(ASKPASS.format(python=sys.executable))
            helper.chmod(stat.S_IRWXU)
            extra.update({"GIT_ASKPASS": str(helper), "GIT_USERNAME": ctx.env["GIT_USERNAME"],
                          "GIT_PASSWORD": ctx.env.get("GIT_PASSWORD", "")})
        env = host_env(extra)
        secrets = [s for s in (ctx.env.get("GIT_PASSWORD"),) if s and len(s) >= 4]  # git never prints it

        def scrub(line: str) -> str:
            for s in secrets:
                line = line.replace(s, "***")
            return line

        code = ctx.run(["git", "-c", "advice.detachedHead=false", "clone", "--depth=1", "--branch", ref, "--", url,
                        str(dest)], env=env, on_line=scrub)
        if code:
            return code
        head: list[str] = []

        def keep(line: str) -> str:
            head.append(line)
            return line

        code = ctx.run(["git", "-C", str(dest), "rev-parse", "HEAD"], env=env, on_line=keep)
        if code:
            return code
        ctx.write_termination_message("".join(line + "\n" for line in head))
        return 0
