# echoscope: Flask on gunicorn, made for Cloud Run.
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    OTEL_SEMCONV_STABILITY_OPT_IN=http \
    PORT=8080

WORKDIR /app

# Dependencies first: this layer stays cached while the code changes.
COPY requirements.txt .
RUN pip install -r requirements.txt

RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin echoscope
COPY service/ service/
COPY config/gunicorn.conf.py config/gunicorn.conf.py

USER echoscope
EXPOSE 8080
CMD ["gunicorn", "-c", "config/gunicorn.conf.py", "service.wsgi:app"]
