# medkg CLI image (used by docker-compose.yml's demo service).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY graph_engine ./graph_engine
COPY ingest ./ingest
COPY recommend ./recommend
COPY models ./models
COPY jobs ./jobs
RUN pip install --no-cache-dir .
# never run as root
RUN useradd --create-home medkg
USER medkg
ENTRYPOINT ["medkg"]
CMD ["demo", "--quiet"]
