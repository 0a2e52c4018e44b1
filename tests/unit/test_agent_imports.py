"""The consumer agent runs on hosts without the server: it must not import Flask, pymongo,
Celery or the server's plugin base."""

import subprocess
import sys


def test_the_agent_imports_no_server_parts():
    code = ("import sys, pulp2ng.agent.cli, pulp2ng.agent.daemon, pulp2ng.agent.handlers; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('flask', 'pymongo', 'celery', 'kombu', 'waitress', 'cheroot') "
            "or m in ('pulp2ng.plugin', 'pulp2ng.db', 'pulp2ng.server')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
