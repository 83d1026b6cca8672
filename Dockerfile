# medkg CLI image (used by docker-compose.yml's demo service).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY graph_engine ./graph_engine
COPY ingest ./ingest
COPY recommend ./recommend
COPY models ./models
COPY jobs ./jobs
# gcc only for the build of the PageRank kernels (graph_engine/scoring/_gs.c), removed again
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && pip install --no-cache-dir . \
    && apt-get purge -y gcc libc6-dev && apt-get autoremove -y && rm -rf /var/lib/apt/lists/*
# never run as root
RUN useradd --create-home medkg
USER medkg
ENTRYPOINT ["medkg"]
CMD ["demo", "--quiet"]
