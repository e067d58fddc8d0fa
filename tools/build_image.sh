#!/usr/bin/env bash
# Builds deploy/Dockerfile into an image and checks that the image works:
# it runs as uid 10001, `vigie --version` and `vigiectl --help` run in it, it
# holds no compiler and no -dev package, and the server starts in it on its
# embedded defaults and answers /healthz. Prints the image's size.
#
# NOT run by CI: it compiles Vigie from scratch inside the build stage (6 to
# 11 minutes on 2 cores) and installs packages on the machine it runs on.
#
# Usage, as root on a Debian 12 machine, from anywhere in the checkout:
#   tools/build_image.sh [TAG]          (TAG defaults to vigie)
#
# With a Docker engine that answers, it runs `docker build`. Without one (or
# with VIGIE_IMAGE_ENGINE=buildah, for an engine that cannot reach Docker
# Hub), it uses buildah from Debian's archive, and
# makes the two base images the Dockerfile names (debian:12, debian:12-slim)
# locally with debootstrap, from the same Debian archive as this machine's
# apt sources: nothing is pulled from a container registry.
#
# Environment:
#   VIGIE_IMAGE_ENGINE=docker|buildah  force an engine (default: docker when
#                                      `docker info` succeeds, else buildah)
#   VIGIE_IMAGE_JOBS=N                 compile jobs in the build stage
#                                      (default 2, for shared machines)
#   VIGIE_IMAGE_REBUILD_BASE=1         remake the local base images even if
#                                      buildah's storage has them
#   VIGIE_IMAGE_CHECK_ONLY=1           build nothing: only check the image
#                                      TAG already built
#   VIGIE_IMAGE_HTTP_PORT, VIGIE_IMAGE_GRPC_PORT
#                                      loopback ports for the server check
#                                      (default 9464 and 50051)
#   BUILDAH_ISOLATION, STORAGE_DRIVER  read by buildah itself; this script
#                                      defaults the isolation to chroot (see
#                                      below); STORAGE_DRIVER=vfs if overlay
#                                      mounts fail where you run it.
set -euo pipefail

cd "$(dirname "$0")/.."
tag=${1:-vigie}
jobs=${VIGIE_IMAGE_JOBS:-2}
check_only=${VIGIE_IMAGE_CHECK_ONLY:-0}
http_port=${VIGIE_IMAGE_HTTP_PORT:-9464}
grpc_port=${VIGIE_IMAGE_GRPC_PORT:-50051}
started=$SECONDS

step() { printf '\n== [%4ds] %s\n' $((SECONDS - started)) "$*"; }
die() {
  echo "build_image: FAILED: $*" >&2
  exit 1
}

[ "$(id -u)" -eq 0 ] || die "run as root (debootstrap and buildah's storage need it)"
[ -f deploy/Dockerfile ] || die "deploy/Dockerfile not found; run from a Vigie checkout"

engine=${VIGIE_IMAGE_ENGINE:-}
if [ -z "$engine" ]; then
  if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    engine=docker
  else
    engine=buildah
  fi
fi
case "$engine" in docker | buildah) ;; *) die "VIGIE_IMAGE_ENGINE must be docker or buildah" ;; esac
step "engine: $engine, image: $tag, compile jobs: $jobs"

# Temporary files (the base images' root file systems) and the working
# container the checks run in; removed however the script ends.
work=$(mktemp -d "${TMPDIR:-/var/tmp}/vigie-image.XXXXXX")
check_container=
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ -n "$check_container" ] && [ "$engine" = buildah ]; then
    buildah rm "$check_container" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# --- Tools -------------------------------------------------------------------

if [ "$engine" = buildah ]; then
  # The default OCI isolation runs RUN steps with crun, which fails on hosts
  # with hybrid cgroups v1/v2 (and in many sandboxes); chroot isolation needs
  # no runtime and is enough for a Dockerfile whose RUN steps only install
  # packages and compile.
  export BUILDAH_ISOLATION=${BUILDAH_ISOLATION:-chroot}
  missing=()
  for tool in buildah:buildah debootstrap:debootstrap curl:curl; do
    command -v "${tool%%:*}" >/dev/null || missing+=("${tool#*:}")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    step "installing ${missing[*]} from Debian's archive"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q || die "apt-get update failed"
    apt-get install -y -q "${missing[@]}" || die "could not install ${missing[*]}"
  fi
  step "buildah $(buildah --version | awk '{print $3}'), isolation $BUILDAH_ISOLATION, storage $(buildah info --format '{{.store.GraphDriverName}}')"
fi
command -v curl >/dev/null || die "curl is needed for the /healthz check"

# --- Base images (buildah only) ----------------------------------------------

# The first Debian archive URI in this machine's apt sources (deb822 or
# one-line style) that is not the security archive; empty: debootstrap's
# default.
debian_mirror() {
  {
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
      awk '/^URIs:/ {for (i = 2; i <= NF; i++) print $i}' \
        /etc/apt/sources.list.d/debian.sources
    fi
    if [ -f /etc/apt/sources.list ]; then
      # deb [options] URI suite components
      sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]\+\).*/\2/p' \
        /etc/apt/sources.list
    fi
  } | grep -v -- '-security' | head -n 1 || true
}

# Gives the root file system this machine's Debian sources (bookworm, its
# updates and its security archive, as the official images have), instead of
# debootstrap's single `bookworm main` line: otherwise the image's packages
# would miss the point releases' and security fixes.
copy_apt_sources() {
  local rootfs=$1 copied=0
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    cp /etc/apt/sources.list.d/debian.sources "$rootfs/etc/apt/sources.list.d/"
    rm -f "$rootfs/etc/apt/sources.list"
    copied=1
  elif grep -q '^deb ' /etc/apt/sources.list 2>/dev/null; then
    grep '^deb ' /etc/apt/sources.list >"$rootfs/etc/apt/sources.list"
    copied=1
  fi
  if [ $copied -eq 0 ]; then
    echo "build_image: warning: no Debian apt sources on this machine;" \
      "the base images keep debootstrap's (no updates, no security)" >&2
  fi
}

# What the official images configure for apt inside containers: no
# translations to download, no package cache left behind after installs.
configure_apt_for_containers() {
  local rootfs=$1
  echo 'Acquire::Languages "none";' >"$rootfs/etc/apt/apt.conf.d/docker-no-languages"
  cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
}

# What makes debian:12-slim slim: dpkg leaves out documentation (but the
# copyright files), manual pages and translations, and those already
# installed go.
slim_down() {
  local rootfs=$1
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$rootfs"/usr/share/{man,groff,info,lintian,linda}/*
  find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias \
    -exec rm -rf {} +
}

# image_id NAME: the ID of the image NAME in the engine's storage, if any.
image_id() {
  if [ "$engine" = docker ]; then
    docker image inspect -f '{{.Id}}' "$1" 2>/dev/null || true
  else
    buildah inspect --type image --format '{{.FromImageID}}' "$1" 2>/dev/null || true
  fi
}

# drop_replaced ID NAME: removes the image ID that NAME named before it was
# made again, so that rebuilding leaves no untagged image behind; kept if
# anything still uses it.
drop_replaced() {
  local old=$1 name=$2
  if [ -n "$old" ] && [ "$old" != "$(image_id "$name")" ]; then
    if [ "$engine" = docker ]; then
      docker rmi "$old" >/dev/null 2>&1 || true
    else
      buildah rmi "$old" >/dev/null 2>&1 || true
    fi
  fi
}

# Commits a root file system as image $2 in buildah's local storage.
import_rootfs() {
  local rootfs=$1 name=$2 container mount old
  old=$(image_id "$name")
  container=$(buildah from scratch)
  mount=$(buildah mount "$container")
  # tar, not buildah copy: it keeps every file's owner, mode and link as
  # debootstrap made them.
  tar -C "$rootfs" -c . | tar -C "$mount" -x
  buildah config --cmd bash \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    "$container"
  # debootstrap installs bookworm's last point release; the fixes published
  # since (security, updates) come with an upgrade, as the official images,
  # rebuilt regularly, have them. Neither the downloaded packages nor the
  # package lists stay: the Dockerfile runs apt-get update itself.
  buildah run "$container" -- sh -c 'export DEBIAN_FRONTEND=noninteractive
    apt-get update -q && apt-get upgrade -y -q && apt-get clean &&
    rm -rf /var/lib/apt/lists/*' >"$work/upgrade.log" 2>&1 ||
    die "upgrading $name failed; last lines:
$(tail -n 20 "$work/upgrade.log")"
  echo "$name: $(grep -c '^Unpacking' "$work/upgrade.log" || true) packages upgraded"
  buildah umount "$container" >/dev/null
  buildah commit --quiet --rm "$container" "$name" >/dev/null
  drop_replaced "$old" "$name"
  echo "$name: $(buildah images --format '{{.Size}}' "$name")"
}

# Named in the local namespace: they are not the registry's images, and
# buildah resolves the Dockerfile's short names (debian:12) to them.
base=localhost/debian:12
slim=localhost/debian:12-slim
if [ "$engine" = buildah ] && [ "$check_only" != 1 ]; then
  if [ "${VIGIE_IMAGE_REBUILD_BASE:-0}" != 1 ] &&
    buildah inspect --type image "$base" >/dev/null 2>&1 &&
    buildah inspect --type image "$slim" >/dev/null 2>&1; then
    step "base images $base and $slim: already in buildah's storage, reused"
  else
    mirror=$(debian_mirror)
    step "debootstrap --variant=minbase bookworm ${mirror:-(the default archive of debootstrap)}"
    # minbase for both, as the official debian:12 (which also lacks the
    # "important" packages a default debootstrap adds): a build that works
    # here does not rely on anything the real base image lacks.
    debootstrap --variant=minbase bookworm "$work/rootfs" ${mirror:+"$mirror"} \
      >"$work/debootstrap.log" 2>&1 ||
      die "debootstrap failed; last lines of its log:
$(tail -n 20 "$work/debootstrap.log")"
    copy_apt_sources "$work/rootfs"
    configure_apt_for_containers "$work/rootfs"
    cp -a "$work/rootfs" "$work/rootfs-slim"
    slim_down "$work/rootfs-slim"
    step "importing the base images into buildah's storage"
    import_rootfs "$work/rootfs" "$base"
    import_rootfs "$work/rootfs-slim" "$slim"
    rm -rf "$work/rootfs" "$work/rootfs-slim"
  fi
fi

# --- Build -------------------------------------------------------------------

build_seconds=0
if [ "$check_only" = 1 ]; then
  step "VIGIE_IMAGE_CHECK_ONLY=1: checking the image $tag already built"
else
  step "building deploy/Dockerfile (the build stage compiles vigie and vigiectl)"
  build_started=$SECONDS
  replaced=$(image_id "$tag")
  if [ "$engine" = docker ]; then
    docker build --build-arg CMAKE_BUILD_PARALLEL_LEVEL="$jobs" \
      -f deploy/Dockerfile -t "$tag" . || die "docker build failed (output above)"
  else
    # --pull=never: the base images are the local ones made above; Docker Hub
    # may be unreachable.
    buildah build --pull=never \
      --build-arg CMAKE_BUILD_PARALLEL_LEVEL="$jobs" \
      -f deploy/Dockerfile -t "$tag" . || die "buildah build failed (output above)"
  fi
  build_seconds=$((SECONDS - build_started))
  drop_replaced "$replaced" "$tag"
  step "built $tag in $((build_seconds / 60)) min $((build_seconds % 60)) s"
fi
built="built in $((build_seconds / 60)) min $((build_seconds % 60)) s"
[ "$check_only" != 1 ] || built="not rebuilt"

# --- Checks ------------------------------------------------------------------

# in_image COMMAND ARGS...: runs COMMAND in the image, as the image's user.
if [ "$engine" = docker ]; then
  in_image() { docker run --rm --entrypoint "$1" "$tag" "${@:2}"; }
  image_user=$(docker image inspect -f '{{.Config.User}}' "$tag")
  image_size=$(docker image inspect -f '{{.Size}}' "$tag" |
    awk '{printf "%.0f MB", $1 / 1e6}')
else
  check_container=$(buildah from --pull=never "$tag")
  in_image() { buildah run "$check_container" -- "$@"; }
  image_user=$(buildah inspect --type image --format '{{.OCIv1.Config.User}}' "$tag")
  image_size=$(buildah images --format '{{.Size}}' "$tag")
fi

# image_output COMMAND ARGS...: COMMAND's output (stdout and stderr), run in
# the image. buildah 1.28's chroot isolation now and then loses a short
# command's output (about once in 20 runs on the machine this was written
# on), which would fail a check or, worse, pass one vacuously: so the checks
# below take output only from here, which runs the command again when its
# output comes back empty, and each expects something in it.
image_output() {
  local out attempt
  for attempt in 1 2 3; do
    out=$(in_image "$@" 2>&1) || {
      printf '%s\n' "$out"
      return 1
    }
    if [ -n "$out" ]; then
      printf '%s\n' "$out"
      return 0
    fi
    echo "build_image: no output from '$*' (attempt $attempt), again" >&2
  done
  return 1
}

step "check: the image runs as uid 10001"
echo "USER in the image's configuration: $image_user"
uid=$(image_output id -u) || die "id -u failed in the image: $uid"
echo "id -u in the image: $uid"
[ "$uid" = 10001 ] || die "the image runs as uid $uid, not 10001"

step "check: vigie --version, vigiectl --help"
version=$(image_output /usr/local/bin/vigie --version) ||
  die "vigie --version failed in the image: $version"
echo "$version"
[[ "$version" == "vigie "* ]] || die "unexpected vigie --version output"
help=$(image_output /usr/local/bin/vigiectl --help) ||
  die "vigiectl --help failed in the image: $help"
head -n 3 <<<"$help"
echo "... ($(wc -l <<<"$help") lines)"
[[ "$help" == *usage:* ]] || die "unexpected vigiectl --help output"
# Every shared library resolved: a missing one shows as "not found".
libraries=$(image_output ldd /usr/local/bin/vigie /usr/local/bin/vigiectl) ||
  die "ldd failed in the image: $libraries"
if grep 'not found' <<<"$libraries"; then
  die "a shared library is missing from the image"
fi
echo "ldd: $(grep -c '=>' <<<"$libraries") libraries resolved, none missing"

step "check: no compiler and no -dev package in the image"
# shellcheck disable=SC2016 # a dpkg-query format, not the shell's
packages=$(image_output dpkg-query -W -f '${Package}\n') ||
  die "dpkg-query failed in the image"
echo "$(wc -l <<<"$packages") packages installed"
[ "$(wc -l <<<"$packages")" -gt 50 ] || die "dpkg-query listed too few packages"
if grep -E -- '-dev$|^(gcc|g\+\+|cpp|clang|binutils|make|cmake|ninja-build)(-[0-9.]+)?$' \
  <<<"$packages"; then
  die "build tools or -dev packages (above) are in the final image"
fi
# The last line tells that the loop ran to its end; anything before it is a
# compiler or a linker found.
# shellcheck disable=SC2016 # expanded in the image's shell
compilers=$(image_output sh -c \
  'for c in cc c++ gcc g++ clang ld as; do command -v $c; done; echo searched')
[ "$compilers" = searched ] || die "compilers in the image: $compilers"
echo "no cc, c++, gcc, g++, clang, ld or as on the PATH"

step "check: the server starts on its embedded defaults and answers /healthz"
for port in "$http_port" "$grpc_port"; do
  # bash connects to the port: a listener there, whatever its protocol.
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "port $port is in use on this machine; set VIGIE_IMAGE_HTTP_PORT/VIGIE_IMAGE_GRPC_PORT"
  fi
done
# The image's own command line (no --config: the embedded defaults), on
# loopback ports of the host's network so that curl can reach it.
server_args=(--data_dir=/var/lib/vigie --grpc_address="127.0.0.1:$grpc_port"
  --http_address="127.0.0.1:$http_port" --log_format=json)
if [ "$engine" = docker ]; then
  docker run --rm --network host --name "vigie-image-check-$$" "$tag" \
    "${server_args[@]}" >"$work/server.log" 2>&1 &
else
  buildah run --network host "$check_container" -- \
    /usr/local/bin/vigie "${server_args[@]}" >"$work/server.log" 2>&1 &
fi
server_pid=$!
healthz=
for _ in $(seq 60); do
  if healthz=$(curl -sf "http://127.0.0.1:$http_port/healthz"); then break; fi
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.5
done
if [ -z "$healthz" ]; then
  cat "$work/server.log" >&2
  die "the server in the image did not answer /healthz within 30 s (its log above)"
fi
echo "GET /healthz: $healthz"
echo "first log line: $(head -n 1 "$work/server.log")"
if [ "$engine" = docker ]; then
  docker stop "vigie-image-check-$$" >/dev/null
fi
kill "$server_pid" 2>/dev/null || true
wait "$server_pid" 2>/dev/null || true
server_pid=

step "done: $tag, $image_size, $built; all checks passed"
