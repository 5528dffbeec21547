"""Haul's own schemathesis check, loaded through SCHEMATHESIS_HOOKS.

API.md: every error is application/problem+json (RFC 9457) with a stable
`code`, including the framework's own 404/405/413/415.
"""

import schemathesis


@schemathesis.check
def problem_json_errors(ctx, response, case):
    if response.status_code < 400:
        return None
    headers = {k.lower(): v for k, v in response.headers.items()}
    content_type = headers.get("content-type", "")
    if isinstance(content_type, list):
        content_type = content_type[0] if content_type else ""
    if not content_type.startswith("application/problem+json"):
        raise AssertionError(
            f"{response.status_code} answered with Content-Type {content_type!r}, not application/problem+json"
        )
    body = response.json()
    for field in ("type", "title", "status", "detail", "code"):
        if field not in body:
            raise AssertionError(f"problem document lacks {field!r}: {body}")
    if body["status"] != response.status_code:
        raise AssertionError(f"problem status {body['status']} != HTTP {response.status_code}")
    return None
