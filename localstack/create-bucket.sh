#!/usr/bin/env bash
# Create an S3 bucket in LocalStack if it does not exist yet (idempotent).
# Uses Python + boto3 so it needs nothing else: the native venv from
# install.sh, or the system python3 inside the LocalStack image (compose's
# localstack-init service runs this same script).
#
# Usage: create-bucket.sh BUCKET
# Env: S3_ENDPOINT (default http://127.0.0.1:4566), HAUL_CACHE, LOCALSTACK_PYTHON.
set -euo pipefail

BUCKET="${1:?usage: create-bucket.sh BUCKET}"
ENDPOINT="${S3_ENDPOINT:-http://127.0.0.1:4566}"
VENV_PY="${HAUL_CACHE:-$HOME/.cache/haul}/localstack-venv/bin/python"

if [[ -n ${LOCALSTACK_PYTHON:-} ]]; then
    PY="$LOCALSTACK_PYTHON"
elif [[ -x $VENV_PY ]]; then
    PY="$VENV_PY"
else
    PY=python3 # in the Docker image boto3 is installed system-wide
fi

exec "$PY" - "$ENDPOINT" "$BUCKET" <<'PYEOF'
import sys, time

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

endpoint, bucket = sys.argv[1], sys.argv[2]
s3 = boto3.client(
    "s3",
    endpoint_url=endpoint,
    region_name="us-east-1",  # no LocationConstraint needed in us-east-1
    aws_access_key_id="test",  # LocalStack maps "test" to account 000000000000
    aws_secret_access_key="test",
    # Path style: virtual-hosted would need DNS for <bucket>.localstack etc.
    config=Config(s3={"addressing_style": "path"}, retries={"mode": "standard", "max_attempts": 3}),
)

def error(e):
    err = e.response.get("Error", {})
    return f"{err.get('Code')}: {err.get('Message')}"

deadline = time.monotonic() + 30  # LocalStack may still be coming up
while True:
    try:
        try:
            s3.head_bucket(Bucket=bucket)
            print(f"bucket {bucket} already exists at {endpoint}")
            break
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
                raise
        try:
            s3.create_bucket(Bucket=bucket)
        except ClientError as e:  # lost a race with another creator: fine
            if e.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
                raise
        print(f"bucket {bucket} created at {endpoint}")
        break
    except ClientError as e:
        sys.exit(f"create-bucket: {bucket} at {endpoint}: {error(e)}")
    except (EndpointConnectionError, ConnectionClosedError) as e:
        if time.monotonic() > deadline:
            sys.exit(f"create-bucket: {endpoint} unreachable: {e}")
        time.sleep(1)
PYEOF
