#!/usr/bin/env bash
# Debian packages the tests and the demo use: installed only when missing (idempotent, quick).
set -euo pipefail
need=()
command -v openssl >/dev/null || need+=(openssl)
command -v pg_ctlcluster >/dev/null || need+=(postgresql)
command -v ffmpeg >/dev/null || need+=(ffmpeg)            # real clips, probing, playback copies
command -v mkfs.vfat >/dev/null || need+=(dosfstools)     # FAT card images for the simulator
command -v mcopy >/dev/null || need+=(mtools)
command -v sfdisk >/dev/null || need+=(fdisk)             # MBR-partitioned card images
command -v mkfs.exfat >/dev/null || need+=(exfatprogs)    # exFAT card images
[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need+=(fonts-wqy-microhei)  # report charts (中文)
command -v chromium >/dev/null || need+=(chromium)        # the web pages' end-to-end tests (headless)
command -v chromedriver >/dev/null || need+=(chromium-driver)  # selenium drives chromium through it
command -v wrk >/dev/null || need+=(wrk)                # make bench: HTTP load from a second process
command -v gcc >/dev/null || need+=(gcc libc6-dev)          # the bridge tests build a stand-in vendor DLL
command -v faketime >/dev/null || need+=(faketime)      # make test-dates: the pure tests on other days
if ((${#need[@]})); then
  echo "[system-deps] installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${need[@]}"
fi
# PostgreSQL at 127.0.0.1:5432 (trust auth on the dev/CI machines)
if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
  for _ in $(seq 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432
