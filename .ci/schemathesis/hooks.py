"""wagate's own schemathesis check: no server error but the documented ones.

wuzapi answers a user whose session is not running or not connected with HTTP 500 and one of a
few exact texts (CONTRACTS §A.0, §F; `SessionRefusal` in crates/wa-http/src/error.rs), and
routes this build does not do yet (media) with 501. Any other 5xx is a failure. This replaces
schemathesis's `not_a_server_error`, which cannot tell them apart.
"""

import json

import schemathesis

# The texts of wa_http::error::SessionRefusal::ALL.
SESSION_REFUSALS = {
    "no session",
    "not logged in",
    "failed to Connect",
    "already connected",
    "not connected",
    "already logged in",
    "cannot disconnect because it is not logged in",
    "could not logout as it was not logged in",
    "could not disconnect as it was not connected",
}

# Prefixes of the S3 routes' documented 500 texts.
S3_FAILURES = ("failed to initialize S3 client: ", "S3 connection test failed: ")


@schemathesis.check
def no_undocumented_server_error(ctx, response, case):
    status = response.status_code
    if status < 500 or status == 501:
        return None
    try:
        body = json.loads(response.content or b"null")
    except ValueError:
        body = None
    text = body.get("error") if isinstance(body, dict) else None
    if status == 500 and text in SESSION_REFUSALS:
        return None
    # The S3 routes' documented 500s (CONTRACTS §A.2): settings that make no client, a bucket
    # that does not answer the connection test.
    if status == 500 and isinstance(text, str) and text.startswith(S3_FAILURES):
        return None
    raise AssertionError(f"undocumented server error {status}: {response.content[:300]!r}")
