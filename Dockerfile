# A station image on the embedded defaults. Build: docker build -t liuhen .
FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends openssl make \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/liuhen
COPY pyproject.toml README.md ./
COPY evidence evidence
COPY integrity integrity
COPY storage storage
COPY devices devices
COPY ingest ingest
COPY jobs jobs
COPY api api
RUN pip install --no-cache-dir .
VOLUME /var/lib/liuhen
ENV LIUHEN_DATA_DIR=/var/lib/liuhen
ENTRYPOINT ["liuhen"]
CMD ["--help"]
