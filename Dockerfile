# A station image on the embedded defaults. Build: docker build -t liuhen .
# gmalglib (SM2, docs/adr/0009-sm2-library.md) is published as an sdist only: its C extension is
# built with gcc in this throwaway stage, and the image gets the wheel, not the compiler.
FROM python:3.11-slim-bookworm AS wheels
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml /src/
RUN pip wheel --no-cache-dir --no-deps -w /wheels "$(python -c 'import tomllib; print(next(d \
    for d in tomllib.load(open("/src/pyproject.toml", "rb"))["project"]["dependencies"] \
    if d.startswith("gmalglib")).split()[0].rstrip(","))')"

FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends openssl make ffmpeg \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/liuhen
COPY pyproject.toml README.md ./
COPY evidence evidence
COPY integrity integrity
COPY ledger ledger
COPY cases cases
COPY access access
COPY storage storage
COPY devices devices
COPY ingest ingest
COPY jobs jobs
COPY api api
COPY --from=wheels /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl . && rm -rf /wheels
VOLUME /var/lib/liuhen
ENV LIUHEN_DATA_DIR=/var/lib/liuhen
ENTRYPOINT ["liuhen"]
CMD ["--help"]
