"""Language presets: a Dockerfile the portal supplies for a repository that has none (Java with
Maven or Gradle, Node.js, Python, Go), with build arguments a definition may change.

Every template is single-stage. A multi-stage Dockerfile builds in one stage and copies the built
files into a small runtime image; the sandbox's builder logs ``RUN`` and makes no layer, so such a
copy would find nothing there, and a template that only works in a real cluster could not be
tested. Each starts with ``ARG BASE_IMAGE=<the language's official image>`` and
``FROM ${BASE_IMAGE}``: an air-gapped cluster (or the sandbox) points ``BASE_IMAGE`` at a copy in
its own registry. Build arguments are declared again after ``FROM`` where the build uses them
(Dockerfile scoping). The runner mounts the chosen template as ``Dockerfile`` in the build's
ConfigMap and passes the definition's ``build_args`` (``--opt build-arg:NAME=VALUE``).

Pure: no I/O, no models; :data:`PRESETS` is what ``GET /api/builds/presets/`` lists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Preset:
    key: str  # as stored in BuildDefinition.preset
    name: str
    dockerfile: str
    build_args: dict[str, str] = field(default_factory=dict)  # NAME -> default

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "name": self.name, "dockerfile": self.dockerfile,
                "build_args": dict(self.build_args)}


JAVA_MAVEN = Preset(
    key="java-maven",
    name="Java (Maven)",
    build_args={"BASE_IMAGE": "maven:3.9-eclipse-temurin-21", "MAVEN_ARGS": "-B -DskipTests",
                "JAVA_OPTS": "-XX:MaxRAMPercentage=75"},
    dockerfile="""\
ARG BASE_IMAGE=maven:3.9-eclipse-temurin-21
FROM ${BASE_IMAGE}
ARG MAVEN_ARGS="-B -DskipTests"
ARG JAVA_OPTS="-XX:MaxRAMPercentage=75"
ENV JAVA_OPTS=${JAVA_OPTS}
WORKDIR /app
COPY . /app
RUN mvn ${MAVEN_ARGS} package && cp "$(ls target/*.jar | grep -v -e '-sources' -e '-javadoc' | head -n 1)" /app/app.jar
EXPOSE 8080
CMD ["sh", "-c", "exec java $JAVA_OPTS -jar /app/app.jar"]
""",
)

JAVA_GRADLE = Preset(
    key="java-gradle",
    name="Java (Gradle)",
    build_args={"BASE_IMAGE": "gradle:8.10-jdk21", "GRADLE_TASKS": "bootJar -x test",
                "JAVA_OPTS": "-XX:MaxRAMPercentage=75"},
    dockerfile="""\
ARG BASE_IMAGE=gradle:8.10-jdk21
FROM ${BASE_IMAGE}
ARG GRADLE_TASKS="bootJar -x test"
ARG JAVA_OPTS="-XX:MaxRAMPercentage=75"
ENV JAVA_OPTS=${JAVA_OPTS}
WORKDIR /app
COPY . /app
RUN gradle --no-daemon ${GRADLE_TASKS} && cp "$(ls build/libs/*.jar | grep -v -e '-plain' | head -n 1)" /app/app.jar
EXPOSE 8080
CMD ["sh", "-c", "exec java $JAVA_OPTS -jar /app/app.jar"]
""",
)

NODEJS = Preset(
    key="nodejs",
    name="Node.js",
    build_args={"BASE_IMAGE": "node:20-alpine", "NODE_ENV": "production", "NPM_INSTALL": "npm ci --omit=dev"},
    dockerfile="""\
ARG BASE_IMAGE=node:20-alpine
FROM ${BASE_IMAGE}
ARG NODE_ENV=production
ARG NPM_INSTALL="npm ci --omit=dev"
ENV NODE_ENV=${NODE_ENV}
WORKDIR /app
COPY . /app
RUN ${NPM_INSTALL}
EXPOSE 3000
CMD ["npm", "start"]
""",
)

PYTHON = Preset(
    key="python",
    name="Python",
    build_args={"BASE_IMAGE": "python:3.12-slim", "REQUIREMENTS": "requirements.txt", "APP_MAIN": "app.py"},
    dockerfile="""\
ARG BASE_IMAGE=python:3.12-slim
FROM ${BASE_IMAGE}
ARG REQUIREMENTS=requirements.txt
ARG APP_MAIN=app.py
ENV PYTHONDONTWRITEBYTECODE=1
ENV PYTHONUNBUFFERED=1
ENV APP_MAIN=${APP_MAIN}
WORKDIR /app
COPY . /app
RUN pip install --no-cache-dir -r ${REQUIREMENTS}
EXPOSE 8000
CMD ["sh", "-c", "exec python \\"$APP_MAIN\\""]
""",
)

GO = Preset(
    key="go",
    name="Go",
    build_args={"BASE_IMAGE": "golang:1.23", "CGO_ENABLED": "0", "GO_PACKAGE": "."},
    dockerfile="""\
ARG BASE_IMAGE=golang:1.23
FROM ${BASE_IMAGE}
ARG CGO_ENABLED=0
ARG GO_PACKAGE=.
ENV CGO_ENABLED=${CGO_ENABLED}
WORKDIR /src
COPY . /src
RUN go build -o /usr/local/bin/app ${GO_PACKAGE}
EXPOSE 8080
CMD ["/usr/local/bin/app"]
""",
)

PRESETS: tuple[Preset, ...] = (JAVA_MAVEN, JAVA_GRADLE, NODEJS, PYTHON, GO)
_BY_KEY = {p.key: p for p in PRESETS}


def get(key: str) -> Preset | None:
    """The preset stored as ``key`` (``""``, the repository's own Dockerfile: None)."""
    return _BY_KEY.get(key)


def dockerfile(key: str) -> str:
    """The template of preset ``key``; KeyError for an unknown one (a definition stores known keys)."""
    return _BY_KEY[key].dockerfile


def default_build_args(key: str) -> dict[str, str]:
    preset = _BY_KEY.get(key)
    return dict(preset.build_args) if preset else {}
