"""Runs one Pulumi Python program for ``language_host.py``: configure the SDK, run the program in a stack.

Exit codes: 0 done; 32 the error was already reported to the user through the engine; anything else a crash.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import runpy
import sys
import traceback

import pulumi
import pulumi.runtime

BAIL_EXIT_CODE = 32


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    for name in (
        "--monitor",
        "--engine",
        "--project",
        "--stack",
        "--pwd",
        "--dry_run",
        "--parallel",
        "--organization",
        "--root_directory",
    ):
        parser.add_argument(name, default="")
    parser.add_argument("program")
    parser.add_argument("args", nargs="*")
    return parser.parse_args()


def main() -> int:
    args = parse()
    pulumi.runtime.set_all_config(pulumi.runtime.get_config_env(), pulumi.runtime.get_config_secret_keys_env())
    pulumi.runtime.configure(
        pulumi.runtime.Settings(
            monitor=args.monitor,
            engine=args.engine,
            project=args.project,
            stack=args.stack,
            parallel=int(args.parallel or 0),
            dry_run=args.dry_run == "true",
            organization=args.organization or None,
            root_directory=args.root_directory or None,
        )
    )
    program = os.path.abspath(args.program)
    os.chdir(args.pwd or os.path.dirname(program))
    sys.path.insert(0, program if os.path.isdir(program) else os.path.dirname(program))
    sys.argv = [program, *args.args]
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(pulumi.runtime.run_in_stack(lambda: runpy.run_path(program, run_name="__main__")))
        return 0
    except pulumi.RunError as error:
        pulumi.log.error(str(error))
        return BAIL_EXIT_CODE
    except Exception:
        pulumi.log.error(f"Program failed with an unhandled exception:\n{traceback.format_exc()}")
        return BAIL_EXIT_CODE
    finally:
        loop.close()
        sys.stdout.flush()
        sys.stderr.flush()


if __name__ == "__main__":
    sys.exit(main())
