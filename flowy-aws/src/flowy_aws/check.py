"""``flowy aws check``: is this account ready for the ``aws`` stack?

Each check makes the smallest real call that proves one thing, and reports
pass, fail or warn with the fix. Every client has bounded timeouts and at
most one retry, so the whole check ends in seconds even when an endpoint is
silent. Kept apart from the click command so tests and the Python API can
call it.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import attrs
from flowy.kernel.checks import FAIL, PASS, SKIP, WARN, Check

from flowy_aws.errors import CREDENTIALS_FIX, translate

#: Actions the job role needs (S3 data and staging, CloudWatch logs, ECR image pulls).
ROLE_ACTIONS = (
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:ListBucket",
    "s3:AbortMultipartUpload",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "ecr:BatchGetImage",
)


@attrs.define
class Settings:
    bucket: str | None = None
    prefix: str = ""
    role: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    timeout: float = 5.0


def _client(service: str, s: Settings) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=s.timeout,
        read_timeout=s.timeout,
        retries={"total_max_attempts": 2, "mode": "standard"},
    )
    return boto3.session.Session(region_name=s.region).client(
        service, endpoint_url=s.endpoint_url, config=config
    )


def check_region(s: Settings) -> Check:
    import boto3

    region = s.region or boto3.session.Session().region_name
    if not region:
        return Check(
            "region",
            FAIL,
            "no region configured",
            "set the stack's `region` option or AWS_REGION / AWS_DEFAULT_REGION",
        )
    s.region = region
    return Check("region", PASS, region)


def check_credentials(s: Settings) -> Check:
    try:
        identity = _client("sts", s).get_caller_identity()
    except Exception as exc:  # noqa: BLE001 - reported
        err = translate(
            exc, what="identify the caller (sts:GetCallerIdentity)", endpoint=s.endpoint_url
        )
        return Check("credentials", FAIL, str(err), CREDENTIALS_FIX)
    return Check("credentials", PASS, f"{identity.get('Arn')} (account {identity.get('Account')})")


def check_bucket(s: Settings) -> list[Check]:
    from flowy_aws.s3_store import S3ArtifactStore

    if not s.bucket:
        return [Check("bucket", SKIP, "no bucket given", "pass --bucket or use a stack with one")]
    try:
        store = S3ArtifactStore(
            bucket=s.bucket,
            prefix=s.prefix,
            region=s.region,
            endpoint_url=s.endpoint_url,
            connect_timeout=s.timeout,
            read_timeout=s.timeout,
            retries=1,
        )
        uri = store.uri_for(f".flowy-check-{secrets.token_hex(6)}")
        store.write_bytes(uri, b"flowy aws check")
        ok = store.read_bytes(uri) == b"flowy aws check"
        store.delete(uri)
    except Exception as exc:  # noqa: BLE001 - reported
        return [
            Check(
                "bucket",
                FAIL,
                str(exc).split(". ", 1)[0],
                str(exc).split(". ", 1)[-1] if ". " in str(exc) else "",
            )
        ]
    checks = [
        Check(
            "bucket",
            PASS if ok else FAIL,
            f"s3://{s.bucket}/{s.prefix}: write, read and delete work",
        )
    ]
    checks.append(_check_lifecycle(s))
    return checks


def _check_lifecycle(s: Settings) -> Check:
    fix = (
        "add a lifecycle rule so uploads cut off by a crash are cleaned up: "
        f"`aws s3api put-bucket-lifecycle-configuration --bucket {s.bucket} "
        '--lifecycle-configuration \'{"Rules":[{"ID":"flowy-abort-mpu","Status":"Enabled",'
        '"Filter":{},"AbortIncompleteMultipartUpload":{"DaysAfterInitiation":1}}]}\'`'
    )
    try:
        rules = _client("s3", s).get_bucket_lifecycle_configuration(Bucket=s.bucket)["Rules"]
    except Exception:  # noqa: BLE001 - no configuration at all, or not allowed to read it
        return Check("multipart cleanup", WARN, "no lifecycle rule aborts incomplete uploads", fix)
    if any(r.get("AbortIncompleteMultipartUpload") and r.get("Status") == "Enabled" for r in rules):
        return Check("multipart cleanup", PASS, "a lifecycle rule aborts incomplete uploads")
    return Check("multipart cleanup", WARN, "no lifecycle rule aborts incomplete uploads", fix)


def check_role(s: Settings) -> list[Check]:
    if not s.role:
        return [
            Check("execution role", SKIP, "no role given", "pass --role or use a stack with one")
        ]
    name = s.role.rsplit("/", 1)[-1]
    iam = _client("iam", s)
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except Exception as exc:  # noqa: BLE001 - reported
        return [
            Check(
                "execution role",
                FAIL,
                f"cannot read role {name}: {translate(exc, what='get the role')}",
                "create the role or fix the `role` option (an IAM role ARN)",
            )
        ]
    trust = role.get("AssumeRolePolicyDocument", {})
    if isinstance(trust, str):
        from urllib.parse import unquote

        trust = json.loads(unquote(trust))
    trusted = "sagemaker.amazonaws.com" in json.dumps(trust)
    checks = [
        Check(
            "execution role",
            PASS if trusted else FAIL,
            f"{role['Arn']}" + ("" if trusted else " does not trust sagemaker.amazonaws.com"),
            ""
            if trusted
            else "add sagemaker.amazonaws.com to the role's trust policy (sts:AssumeRole)",
        )
    ]
    resources = [f"arn:aws:s3:::{s.bucket}", f"arn:aws:s3:::{s.bucket}/*"] if s.bucket else ["*"]
    try:
        results = iam.simulate_principal_policy(
            PolicySourceArn=role["Arn"], ActionNames=list(ROLE_ACTIONS), ResourceArns=resources
        )["EvaluationResults"]
    except Exception as exc:  # noqa: BLE001 - simulation not allowed or not supported
        checks.append(
            Check(
                "role permissions",
                WARN,
                f"could not simulate the role's policies ({type(exc).__name__})",
                "allow iam:SimulatePrincipalPolicy to check",
            )
        )
        return checks
    denied = sorted({r["EvalActionName"] for r in results if r.get("EvalDecision") != "allowed"})
    checks.append(
        Check(
            "role permissions",
            FAIL if denied else PASS,
            f"denied: {', '.join(denied)}" if denied else f"{len(ROLE_ACTIONS)} actions allowed",
            f"grant {', '.join(denied)} to the role" if denied else "",
        )
    )
    return checks


def check_sagemaker(s: Settings) -> Check:
    try:
        _client("sagemaker", s).list_training_jobs(MaxResults=1)
    except Exception as exc:  # noqa: BLE001 - reported
        return Check(
            "sagemaker api",
            FAIL,
            str(translate(exc, what="list training jobs")),
            "allow sagemaker:ListTrainingJobs, CreateTrainingJob, DescribeTrainingJob, "
            "StopTrainingJob and iam:PassRole for the role",
        )
    return Check("sagemaker api", PASS, f"reachable in {s.region}")


def run_checks(s: Settings) -> list[Check]:
    """All checks, in order; later ones are skipped when credentials fail."""
    checks = [check_region(s)]
    creds = check_credentials(s)
    checks.append(creds)
    if creds.status != PASS:
        return checks
    checks += check_bucket(s)
    checks += check_role(s)
    checks.append(check_sagemaker(s))
    return checks
