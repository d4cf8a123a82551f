"""gunicorn settings for bench.bench_load: the product's WSGI application, with the
benchmarks' floor URLs (bench/urls.py) beside the product's in each worker."""


def post_worker_init(worker):
    # Runs in each worker after va_agency.wsgi is loaded, before its first request; URL
    # resolution reads ROOT_URLCONF per request, so the product's modules stay as they are.
    from django.conf import settings

    settings.ROOT_URLCONF = "bench.urls"
