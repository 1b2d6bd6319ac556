"""Fixed bounds of the sandbox (the per-brand ones come from QuotaSettings with each job)."""

from __future__ import annotations

# Captured output (docs/contract.md#script-execution-limits).
MAX_LOG_ENTRIES = 200
MAX_OUTPUT_BYTES = 64 * 1024

# Not in the contract; they keep one execution from filling memory or the result panel.
MAX_CODE_CHARS = 100_000
MAX_RESULT_BYTES = 64 * 1024
MAX_VARIABLE_NAME_CHARS = 200
MAX_REDIRECT_CHARS = 2048
MAX_ERROR_MESSAGE_CHARS = 2000
