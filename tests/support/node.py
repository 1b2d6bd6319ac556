"""Node.js (V8) as the reference for JavaScript semantics in differential tests.

Without ``node`` the tests that need it skip with the reason, unless ``NODE_TESTS_REQUIRED=1``
(CI, which installs Node with apt when it is missing), which makes that a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

SKIP_REASON = "node (Node.js) is not installed: it is the JavaScript reference here (apt-get install nodejs)"

# Evaluates each source text as a script in a fresh V8 context and answers, per source, the JSON
# text of its completion value (null when JSON.stringify gives undefined) or the thrown error.
HARNESS = r"""
const vm = require('vm');
let input = '';
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const out = JSON.parse(input).map((source) => {
    try {
      const value = vm.runInNewContext(source, {}, {timeout: 5000});
      const text = JSON.stringify(value);
      return {json: text === undefined ? 'null' : text};
    } catch (e) {
      return {error: String(e && e.name)};
    }
  });
  process.stdout.write(JSON.stringify(out));
});
"""


def node_path() -> str | None:
    return shutil.which("node")


def node_tests_required() -> bool:
    return os.environ.get("NODE_TESTS_REQUIRED", "").strip() == "1"


def require_node() -> str:
    path = node_path()
    if path is None:
        if node_tests_required():
            pytest.fail("NODE_TESTS_REQUIRED=1 but node is not installed (apt-get install nodejs)")
        pytest.skip(SKIP_REASON)
    return path


def node_eval(sources: list[str]) -> list[dict]:
    """[{"json": text} | {"error": name}] for each source, evaluated by Node."""
    completed = subprocess.run([require_node(), "-e", HARNESS], input=json.dumps(sources),
                               capture_output=True, text=True, timeout=120, check=True)
    return json.loads(completed.stdout)
