#!/usr/bin/env bash
# Debian packages the services need (Java 17 for Spark and the Hive metastore, Maven for jars,
# PostgreSQL, Chromium + ChromeDriver for the browser tests). Nessie needs Java 21+:
# scripts/services/nessie.sh finds it (NESSIE_JAVA, JAVA_HOME, or /usr/lib/jvm/*, where this
# machine kind ships Temurin 25).
# Installs only what is missing, so it is quick on a prepared machine.
set -euo pipefail
need=()
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
command -v javac >/dev/null 2>&1 || need+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null 2>&1 || need+=(maven)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v prometheus-pushgateway >/dev/null 2>&1 || need+=(prometheus-pushgateway)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
# libfaketime: the Phlo retention tests run phlo with its clock days ahead.
command -v faketime >/dev/null 2>&1 || need+=(faketime)
# The browser tests (selenium) drive Debian's chromium through Debian's chromedriver.
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
if ((${#need[@]})); then
  echo "installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
