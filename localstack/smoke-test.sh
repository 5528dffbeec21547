#!/usr/bin/env bash
# Smoke test of a running LocalStack S3 with the operations Haul relies on:
# put, multipart upload (5 MiB + small part), presigned GET with
# response-content-disposition fetched with a Range header (expect 206), and
# rejection of tampered/expired presigned URLs (start.sh turns on signature
# validation). Uses the venv's boto3 plus curl.
#
# Usage: smoke-test.sh [BUCKET]   (default haul-smoke; created if missing)
# Env: S3_ENDPOINT (default http://127.0.0.1:4566), HAUL_CACHE.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BUCKET="${1:-haul-smoke}"
export S3_ENDPOINT="${S3_ENDPOINT:-http://127.0.0.1:4566}"
PY="${HAUL_CACHE:-$HOME/.cache/haul}/localstack-venv/bin/python"

"$HERE/create-bucket.sh" "$BUCKET" >/dev/null

exec "$PY" - "$S3_ENDPOINT" "$BUCKET" <<'PYEOF'
import hashlib, os, re, subprocess, sys, time

import boto3
from botocore.config import Config

endpoint, bucket = sys.argv[1], sys.argv[2]
s3 = boto3.client(
    "s3", endpoint_url=endpoint, region_name="us-east-1",
    aws_access_key_id="test", aws_secret_access_key="test",
    config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"),
)

def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        sys.exit(1)

def curl(url, *headers):
    """GET url with curl; returns (status, headers dict (lower-case), body)."""
    args = ["curl", "-sS", "-D", "-", "-o", "/dev/stderr", "--max-time", "30"]
    for h in headers:
        args += ["-H", h]
    p = subprocess.run(args + [url], capture_output=True, check=True)
    lines = p.stdout.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:] if l)}
    return status, hdrs, p.stderr

# 1. Plain put/get.
r = s3.put_object(Bucket=bucket, Key="smoke/hello.txt", Body=b"hello haul\n")
checksums = {k: v for k, v in r.items() if k.startswith("Checksum")}
print(f"     put_object response checksums: {checksums}")
check(s3.get_object(Bucket=bucket, Key="smoke/hello.txt")["Body"].read() == b"hello haul\n", "put_object + get_object")

# 2. Multipart: one 5 MiB part (the S3 minimum for non-last parts) + a small last part.
# Gotcha (AWS behaves the same): boto3/SDKs send a CRC32 with every part, but if
# CreateMultipartUpload named no ChecksumAlgorithm, CompleteMultipartUpload must
# list parts with PartNumber + ETag only -- passing the parts' ChecksumCRC32
# back gives 400 InvalidPart. With ChecksumAlgorithm=CRC32 they are required.
part1 = (b"id,value\n" + os.urandom(5 * 1024 * 1024 - 9))
part2 = b"last part\n"
whole = part1 + part2

def multipart(key, algorithm=None):
    t = time.monotonic()
    extra = {"ChecksumAlgorithm": algorithm} if algorithm else {}
    up = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType="text/csv", **extra)
    parts = []
    for n, data in ((1, part1), (2, part2)):
        pr = s3.upload_part(Bucket=bucket, Key=key, UploadId=up["UploadId"], PartNumber=n, Body=data, **extra)
        part = {"PartNumber": n, "ETag": pr["ETag"]}
        if algorithm:
            part[f"Checksum{algorithm}"] = pr[f"Checksum{algorithm}"]
        parts.append(part)
    print(f"     upload_part response fields: {sorted(k for k in pr if k != 'ResponseMetadata')}")
    done = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=up["UploadId"],
                                        MultipartUpload={"Parts": parts})
    print(f"     complete: ETag={done['ETag']} "
          f"{ {k: v for k, v in done.items() if k.startswith('Checksum')} } ({time.monotonic() - t:.2f}s)")
    head = s3.head_object(Bucket=bucket, Key=key)
    check(head["ContentLength"] == len(whole) and head["ContentType"] == "text/csv",
          f"multipart upload of 2 parts, ChecksumAlgorithm={algorithm} ({len(whole)} bytes, text/csv)")
    got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    check(hashlib.sha256(got).digest() == hashlib.sha256(whole).digest(), "multipart content round-trips")

key = "smoke/multipart.csv"
multipart("smoke/multipart-crc32.csv", "CRC32")
multipart(key)

# 3. Presigned GET with response-content-disposition, fetched with a Range header.
disp = 'attachment; filename="export.csv"'
url = s3.generate_presigned_url("get_object", ExpiresIn=60,
                                Params={"Bucket": bucket, "Key": key, "ResponseContentDisposition": disp})
status, hdrs, body = curl(url, "Range: bytes=0-9")
check(status == 206, f"presigned GET with Range: bytes=0-9 -> {status}")
check(hdrs.get("content-range") == f"bytes 0-9/{len(whole)}", f"Content-Range: {hdrs.get('content-range')}")
check(hdrs.get("content-disposition") == disp, f"Content-Disposition: {hdrs.get('content-disposition')}")
check(body == whole[:10], "ranged body is the first 10 bytes")
status, hdrs, body = curl(url)
check(status == 200 and len(body) == len(whole), f"presigned GET without Range -> {status}, {len(body)} bytes")

# 4. Signature validation is on (start.sh sets S3_SKIP_SIGNATURE_VALIDATION=0).
bad = re.sub(r"(X-Amz-Signature=)([0-9a-f])", lambda m: m.group(1) + ("0" if m.group(2) != "0" else "1"), url)
status, _, body = curl(bad)
check(status == 403, f"tampered presigned URL -> {status} {re.search(rb'<Code>(.*?)</Code>', body).group(1).decode() if status != 200 else ''}")
short = s3.generate_presigned_url("get_object", ExpiresIn=1, Params={"Bucket": bucket, "Key": key})
time.sleep(2.1)
status, _, body = curl(short)
check(status == 403, f"expired presigned URL -> {status} {re.search(rb'<Message>(.*?)</Message>', body).group(1).decode() if status != 200 else ''}")

# Clean up so repeated runs don't accumulate objects.
s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "smoke/hello.txt"}, {"Key": key}, {"Key": "smoke/multipart-crc32.csv"}]})
print("smoke test passed")
PYEOF
