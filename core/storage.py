"""Where uploaded files are kept: the local disk (the embedded default, one host), or a
private S3 bucket (AWS or any S3-compatible service) that every web host shares.

Read by the settings, so it imports nothing that needs them. Files are never public in
either place: the app serves each one itself, after checking who asks.
"""

from django.core.exceptions import ImproperlyConfigured

FILESYSTEM = "filesystem"
S3 = "s3"
CHOICES = (FILESYSTEM, S3)


def file_storage(env) -> dict:
    """The STORAGES["default"] entry that the FILE_STORAGE variable names."""
    kind = env.str("FILE_STORAGE", default=FILESYSTEM).strip().lower()
    if kind == FILESYSTEM:
        return {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    if kind != S3:
        raise ImproperlyConfigured(
            f"FILE_STORAGE must be one of {', '.join(CHOICES)} (it is {kind!r})."
        )
    bucket = env.str("AWS_STORAGE_BUCKET_NAME", default="")
    if not bucket:
        raise ImproperlyConfigured("AWS_STORAGE_BUCKET_NAME must be set when FILE_STORAGE=s3.")
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
            # Another S3-compatible service (MinIO, Ceph, R2...); AWS itself when unset.
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
            # Unset: boto3 finds credentials itself (an instance or task role, a profile).
            "access_key": env.str("AWS_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default="") or None,
            # "path" for services without per-bucket host names (MinIO by default).
            "addressing_style": env.str("AWS_S3_ADDRESSING_STYLE", default="") or None,
            # No ACL is sent: objects are as private as the bucket, which must block
            # public access. Links are signed, and short-lived: the app streams every
            # download itself, so a link is only ever made for platform staff (the admin).
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": env.int("AWS_QUERYSTRING_EXPIRE", default=60),
            # Keys are random already; never replacing an existing object makes a clash
            # impossible rather than merely unlikely.
            "file_overwrite": False,
            # A download larger than this waits on disk, not in the web worker's memory.
            "max_memory_size": 1024 * 1024,
        },
    }
