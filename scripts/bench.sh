#!/usr/bin/env bash
# hezi's benchmarks, each beside its peers in one run on the same work, written to
# docs/benchmarks.md as medians and ratios (lower is better; ratio < 1 means hezi is faster).
#
#   scripts/bench.sh                 all sections
#   scripts/bench.sh digest runtime  only these (digest, runtime, seccomp, unpack, image,
#                                    registry)
#
# Needs root for runtime and unpack sections. Work happens on tmpfs (/dev/shm) so disk noise
# does not hide CPU cost. crun runs only in a private mount namespace with an empty file over
# /sys/fs/cgroup/unified/cgroup.controllers (it refuses this host's hybrid layout otherwise);
# every runtime is timed inside that same namespace so the comparison is fair.
set -euo pipefail
cd "$(dirname "$0")/.."
root_dir=$PWD
sections=("$@")
[ ${#sections[@]} -eq 0 ] && sections=(digest runtime seccomp unpack image registry)
want() { local s; for s in "${sections[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }

scripts/deps.sh
if [ "$(id -u)" -eq 0 ] && ! command -v debootstrap >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi
cargo build --release -q -p hezi-testsupport
# hezi as shipped: static-pie release build (scripts/build-release.sh says why).
hezi_bin=$(scripts/build-release.sh)
cargo build --release -q --examples -p hezi-digest -p hezi-image 2>/dev/null || true
rel=${CARGO_TARGET_DIR:-$root_dir/target}/release
work=$(mktemp -d /dev/shm/hezi-bench.XXXXXX)
# podman's storage (image section) mounts under $work: reset it and unmount what is left
# before removing the directory, whatever happened.
pod_cleanup() { :; }
unmount_work() { grep " $work" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true; }
trap 'pod_cleanup; unmount_work; rm -rf "$work"' EXIT
out=$work/results.md
runs=${HEZI_BENCH_RUNS:-30}
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')

# table TITLE JSON...: a markdown table from hyperfine JSON exports; first command is hezi.
table() {
    python3 - "$@" >>"$out" <<'PY'
import json, sys
title, files = sys.argv[1], sys.argv[2:]
print(f"\n### {title}\n")
print("| work | hezi | " + " | ".join(["peer", "median", "hezi / peer"]) + " |")
print("|---|---|---|---|---|")
for f in files:
    res = json.load(open(f))["results"]
    h = res[0]
    for p in res[1:]:
        ratio = h["median"] / p["median"] if p["median"] else float("nan")
        print(f"| {h.get('work', f.split('/')[-1][:-5])} | {h['median']*1000:.2f} ms | {p['command']} | {p['median']*1000:.2f} ms | {ratio:.2f} |")
PY
}

hf() { # hf NAME [hyperfine args...] -> writes $work/NAME.json
    local name=$1; shift
    hyperfine --style basic --export-json "$work/$name.json" "$@" >&2
    python3 - "$work/$name.json" "$name" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); d["results"][0]["work"] = sys.argv[2]
json.dump(d, open(sys.argv[1], "w"))
PY
}

{
    echo "# Benchmarks"
    echo
    echo "Written by \`scripts/bench.sh\` on $(date -u +%Y-%m-%d) ($cpu, $(nproc) cores, Linux $(uname -r))."
    echo "Medians of hyperfine runs; every peer runs on the same input in the same run."
    echo "A ratio below 1.00 means hezi is faster (or smaller). hezi is the release binary as shipped"
    echo "(static-pie, \`scripts/build-release.sh\`); runc and crun are Debian's."
} >"$out"

if want digest; then
    echo "== digest" >&2
    echo "<!-- bench:digest -->" >>"$out"
    f=$work/blob-1g
    head -c $((1024*1024*1024)) /dev/urandom >"$f"
    sum=$rel/examples/sha256sum
    if [ -x "$sum" ]; then
        [ "$("$sum" "$f" | cut -d' ' -f1)" = "$(sha256sum "$f" | cut -d' ' -f1)" ] || { echo "digest mismatch" >&2; exit 1; }
        hf "sha256 of 1 GiB" --runs 5 --warmup 1 -N -n hezi-digest "$sum $f" -n "openssl dgst -sha256" "openssl dgst -sha256 $f" -n "coreutils sha256sum" "sha256sum $f"
        table "SHA-256 of a 1 GiB file (tmpfs)" "$work/sha256 of 1 GiB.json"
    else
        echo -e "\n### SHA-256\n\nnot measured: hezi-digest's sha256sum example is missing from this build." >>"$out"
    fi
    rm -f "$f"
fi

if want runtime && [ "$(id -u)" -eq 0 ]; then
    echo "== runtime" >&2
    echo "<!-- bench:runtime -->" >>"$out"
    b=$work/bundle
    "$rel/hezi-fixtures" bundle "$b" true
    # An explicit cgroupsPath, as every engine sets one, the same for all three runtimes
    # (without one, runc and crun use /<id> and hezi /hezi/<id>, one level more to create).
    jq '.linux.cgroupsPath = "/hezi-bench-seq"' "$b/config.json" >"$b/config.tmp" && mv "$b/config.tmp" "$b/config.json"
    # A second bundle whose init sleeps, for exec and for the parallel start.
    sb=$work/sleep-bundle
    "$rel/hezi-fixtures" bundle "$sb" sleep 1000
    # hezi, runc and crun each get their own state root; the same bundle for all.
    cat >"$work/rt.sh" <<SH
set -e
touch $work/empty
mount --bind $work/empty /sys/fs/cgroup/unified/cgroup.controllers
cd $b
hf() { hyperfine --style basic --export-json "\$1" --runs $runs --warmup 3 "\${@:2}" >&2; }
rtcmd() { case \$1 in hezi) echo "$hezi_bin --root $work/h";; runc) echo "runc --root $work/r";; crun) echo "crun --root $work/c";; esac; }
# Whatever happens, no container of the benchmark outlives it.
cleanup() { for rt in hezi runc crun; do for id in c m m2 x \$(seq -f p%g 50); do \$(rtcmd \$rt) delete --force \$id >/dev/null 2>&1 || true; done; done; }
trap cleanup EXIT
hf $work/csd.json \
  -n hezi "$hezi_bin --root $work/h create c && $hezi_bin --root $work/h start c && $hezi_bin --root $work/h delete --force c" \
  -n runc "runc --root $work/r create c && runc --root $work/r start c && runc --root $work/r delete --force c" \
  -n crun "crun --root $work/c create c && crun --root $work/c start c && crun --root $work/c delete --force c"
# -N: no shell around each command, so the floor (a bare unshare of the same namespaces) is
# comparable with the runtimes.
hf $work/run.json -N \
  -n hezi "$hezi_bin --root $work/h run c" \
  -n runc "runc --root $work/r run c" \
  -n crun "crun --root $work/c run c" \
  -n "unshare -m -u -i -n -p -f true (floor)" "unshare -m -u -i -n -p -f true"
# exec of true into a running container (its init sleeps).
cd $sb
for rt in hezi runc crun; do \$(rtcmd \$rt) run -d x >/dev/null </dev/null; done
hf $work/exec.json -N \
  -n hezi "$hezi_bin --root $work/h exec x true" \
  -n runc "runc --root $work/r exec x true" \
  -n crun "crun --root $work/c exec x true"
for rt in hezi runc crun; do \$(rtcmd \$rt) delete --force x; done
# 50 containers started in parallel (run -d, so each is running when its command returns);
# wall time to all running and the CPU time of the whole batch, then all deleted.
for rt in hezi runc crun; do
  cmd=\$(rtcmd \$rt)
  for round in 1 2 3; do
    /usr/bin/time -f "\$rt %e %U %S" -o $work/par-\$rt-\$round.txt bash -c "for i in \\\$(seq 50); do \$cmd run -d p\\\$i >/dev/null </dev/null & done; wait"
    for i in \$(seq 50); do \$cmd delete --force p\$i; done
  done
done
cat $work/par-*.txt >$work/par.txt
cd $b
# Peak RSS (worst of 5) of run and of create.
for rt in hezi runc crun; do
  cmd=\$(rtcmd \$rt)
  run_kb=0; create_kb=0
  for i in 1 2 3 4 5; do
    # time writes to a file: the created container's init keeps create's stdio open.
    /usr/bin/time -f %M -o $work/kb \$cmd run m >/dev/null 2>&1 </dev/null
    kb=\$(tail -1 $work/kb)
    [ "\$kb" -gt "\$run_kb" ] && run_kb=\$kb
    /usr/bin/time -f %M -o $work/kb \$cmd create m2 >/dev/null 2>&1 </dev/null
    kb=\$(tail -1 $work/kb)
    [ "\$kb" -gt "\$create_kb" ] && create_kb=\$kb
    \$cmd delete --force m2
  done
  echo "\$rt \$run_kb \$create_kb"
done >$work/mem.txt
SH
    # Timed at a high CPU priority (nice -15) so that other work on the machine weighs less in
    # the samples (not real-time: the kernel refuses RT tasks in a v1 cpu cgroup without an RT
    # budget, which is every container's).
    if nice -n -15 unshare -m --propagation private bash "$work/rt.sh"; then
        for n in csd run exec; do
            python3 - "$work/$n.json" "$n" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["results"][0]["work"] = {"csd": "create + start + delete (true)", "run": "run (true)",
                           "exec": "exec of true into a running container"}[sys.argv[2]]
json.dump(d, open(sys.argv[1], "w"))
PY
        done
        table "Container lifecycle (busybox bundle, same config for all)" "$work/csd.json" "$work/run.json" "$work/exec.json"
        python3 - "$work/par.txt" >>"$out" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    rt, wall, user, sys_ = line.split()
    rows.setdefault(rt, []).append((float(wall), float(user) + float(sys_)))
print("\n### 50 containers started in parallel (`run -d`, median of 3 rounds)\n")
print("| runtime | wall time to all running | CPU time (user + sys) | hezi / runtime (wall, CPU) |")
print("|---|---|---|---|")
med = {rt: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for rt, v in rows.items()}
h = med["hezi"]
for rt in ("hezi", "runc", "crun"):
    w, c = med[rt]
    print(f"| {rt} | {w*1000:.0f} ms | {c*1000:.0f} ms | {h[0]/w:.2f}, {h[1]/c:.2f} |")
PY
        {
            echo -e "\n### Peak memory (max RSS, KiB, worst of 5)\n"
            echo "| runtime | run | create | hezi / runtime (run, create) |"; echo "|---|---|---|---|"
            read -r _ hr hc < <(grep '^hezi ' "$work/mem.txt")
            while read -r rt r c; do
                printf '| %s | %s | %s | %s |\n' "$rt" "$r" "$c" "$(python3 -c "print(f'{$hr/$r:.2f}, {$hc/$c:.2f}')")"
            done <"$work/mem.txt"
        } >>"$out"
    else
        echo -e "\n### Container lifecycle\n\nnot measured: a runtime failed on the benchmark bundle (see the script's output)." >>"$out"
    fi
fi

if want seccomp; then
    echo "== seccomp" >&2
    echo "<!-- bench:seccomp -->" >>"$out"
    lines=$(cargo bench -q -p hezi-seccomp --bench seccomp_getppid 2>/dev/null | grep '^seccomp_' || true)
    if [ -n "$lines" ]; then
        python3 - "$lines" >>"$out" <<'PY'
import sys
rows = {}
for line in sys.argv[1].splitlines():
    name, *kvs = line.split()
    rows[name] = dict(kv.split("=", 1) for kv in kvs)
print("\n### seccomp: cost per syscall under Docker's default profile (ns)\n")
print("| syscall | hezi | libseccomp | no filter | hezi over no filter / libseccomp over no filter | BPF insns hezi / libseccomp |")
print("|---|---|---|---|---|---|")
for key, what in [("seccomp_getppid_ns", "getppid (allowed, kernel cache may skip the filter)"),
                  ("seccomp_personality_ns", "personality(0xffffffff) (argument rule: whole filter runs)")]:
    r = rows.get(key)
    if not r:
        continue
    h, l, n = float(r["hezi"]), float(r["libseccomp"]), float(r["none"])
    over = (h - n) / (l - n) if l > n else float("nan")
    print(f"| {what} | {h:.1f} | {l:.1f} | {n:.1f} | {over:.2f} | {r.get('hezi_insns','?')} / {r.get('libseccomp_insns','?')} |")
c = rows.get("seccomp_compile_us")
if c:
    print(f"\nCompiling Docker's profile: {c['compile']} us; a cache hit: {c['cache_hit']} us.")
PY
    else
        echo -e "\n### seccomp\n\nnot measured: the hezi-seccomp benchmark did not run." >>"$out"
    fi
fi

# The Debian benchmark image (debootstrap once, cached): $work/img/layout, ref debian:bench.
debian_image() {
    [ -d "$work/img/layout" ] && return 0
    local deb=/var/cache/hezi-bench/debian
    if [ ! -d "$deb" ]; then
        debootstrap --variant=minbase bookworm "$deb.tmp" http://deb.debian.org/debian >&2
        mv "$deb.tmp" "$deb"
    fi
    python3 "$root_dir/scripts/bench_image.py" "$deb" "$work/img" >&2
}

if want unpack && [ "$(id -u)" -eq 0 ]; then
    echo "== unpack" >&2
    echo "<!-- bench:unpack -->" >>"$out"
    up=$rel/examples/unpack
    if [ -x "$up" ]; then
        debian_image
        hf "unpack" --runs 5 --warmup 1 --prepare "rm -rf $work/u1 $work/u2 $work/u3; mkdir -p $work/u3" \
            -n hezi "$up $work/img/layout debian:bench $work/u1" \
            -n umoci "umoci unpack --image $work/img/layout:debian:bench $work/u2" \
            -n "tar -xzf" "for l in $work/img/layers/*.tar.gz; do tar -xzf \$l -C $work/u3; done"
        table "Unpack of a two-layer gzip Debian image (tmpfs)" "$work/unpack.json"
    else
        echo -e "\n### Unpack\n\nnot measured: hezi-image's unpack example is missing from this build." >>"$out"
    fi
fi

if want image && [ "$(id -u)" -eq 0 ]; then
    echo "== image" >&2
    echo "<!-- bench:image -->" >>"$out"
    debian_image
    h="$hezi_bin --store $work/store"
    $h image import "$work/img/layout" >&2
    # A prepared bundle of the same image, for the floor: run of a bundle already on disk.
    $h image unpack debian:bench "$work/debbundle" >&2
    python3 - "$work/debbundle/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["process"]["args"] = ["true"]; c["process"]["terminal"] = False
c["root"]["readonly"] = False
json.dump(c, open(sys.argv[1], "w"))
PY
    # Warm the layer cache once.
    $h --root "$work/hi" run --image debian:bench warm -- true >&2
    # The figure users compare with: podman run --rm of the same image (its own storage,
    # cgroupfs, no network), with runc and with hezi as its runtime. crun cannot run under
    # podman on a hybrid host (it refuses the layout; the bench's mount trick is per process).
    podrows=()
    if command -v podman >/dev/null; then
        mkdir -p "$work/pod"
        P="podman --root $work/pod/storage --runroot $work/pod/run --tmpdir $work/pod/tmp --cgroup-manager cgroupfs --events-backend file"
        [ -d /sys/fs/cgroup/memory/libpod_parent ] || [ -d /sys/fs/cgroup/libpod_parent ] || own_libpod=1
        pod_cleanup() {
            $P system reset -f >/dev/null 2>&1 || true
            if [ -n "${own_libpod:-}" ]; then
                for d in /sys/fs/cgroup/*/libpod_parent /sys/fs/cgroup/libpod_parent; do
                    [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
                done
            fi
            unmount_work
        }
        # skopeo names the image itself (podman pull oci: derives a name from the path).
        if skopeo copy -q "oci:$work/img/layout:debian:bench" \
            "containers-storage:[overlay@$work/pod/storage+$work/pod/run]localhost/debian:bench" >&2; then
            PR="run --rm --network none --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 localhost/debian:bench true"
            podrows=(-n "podman run --rm (runc)" "$P --runtime runc $PR"
                -n "podman run --rm (hezi)" "$P --runtime $hezi_bin $PR")
        else
            echo "podman could not load the image; its rows are left out" >&2
        fi
    fi
    hf "run --image (overlay, warm layer cache)" --runs "$runs" --warmup 3 \
        -n "hezi run --image" "$h --root $work/hi run --image debian:bench i -- true" \
        -n "hezi run of a prepared bundle" "$h --root $work/hb run -b $work/debbundle b" \
        -n "hezi run --copy --image" "$h --root $work/hc run --copy --image debian:bench c -- true" \
        "${podrows[@]}"
    table "\`run\` of \`true\` from the Debian image (hezi's ways, and podman with runc and with hezi)" \
        "$work/run --image (overlay, warm layer cache).json"
    pod_cleanup
fi

if want registry && command -v docker-registry >/dev/null && command -v skopeo >/dev/null; then
    echo "== registry" >&2
    echo "<!-- bench:registry -->" >>"$out"
    # A ~500 MB image of 5 incompressible layers, pushed to and pulled from Debian's
    # docker-registry on loopback (storage on tmpfs), hezi beside skopeo.
    python3 - "$work/big" <<'PY'
import hashlib, io, json, os, sys, tarfile
d = sys.argv[1]; b = os.path.join(d, "blobs", "sha256"); os.makedirs(b)
def blob(data, mt):
    h = hashlib.sha256(data).hexdigest()
    open(os.path.join(b, h), "wb").write(data)
    return {"mediaType": mt, "digest": "sha256:" + h, "size": len(data)}
layers, diffs = [], []
for i in range(5):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        data = os.urandom(100 << 20)
        info = tarfile.TarInfo(f"layer{i}.bin"); info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    raw = buf.getvalue()
    layers.append(blob(raw, "application/vnd.oci.image.layer.v1.tar"))
    diffs.append("sha256:" + hashlib.sha256(raw).hexdigest())
cfg = blob(json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["true"]},
                       "rootfs": {"type": "layers", "diff_ids": diffs}}).encode(),
           "application/vnd.oci.image.config.v1+json")
man = blob(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "config": cfg, "layers": layers}).encode(), "application/vnd.oci.image.manifest.v1+json")
man["annotations"] = {"org.opencontainers.image.ref.name": "bench:1"}
open(os.path.join(d, "index.json"), "w").write(json.dumps({"schemaVersion": 2, "manifests": [man]}))
open(os.path.join(d, "oci-layout"), "w").write('{"imageLayoutVersion":"1.0.0"}')
PY
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    cat >"$work/registry.yml" <<YML
version: 0.1
storage:
  filesystem:
    rootdirectory: $work/registry-data
http:
  addr: 127.0.0.1:$port
YML
    docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
    regpid=$!
    for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
    h="$hezi_bin --store $work/rstore"
    $h image import "$work/big" >&2
    reg=127.0.0.1:$port
    skopeo copy -q --dest-tls-verify=false "oci:$work/big:bench:1" "docker://$reg/bench:1" >&2
    hf "pull (5 x 100 MB layers)" --runs 5 --warmup 1 \
        --prepare "rm -rf $work/pull-h $work/pull-s" \
        -n "hezi image pull" "$hezi_bin --store $work/pull-h image pull docker://$reg/bench:1" \
        -n "skopeo copy docker:// oci:" "skopeo copy -q --src-tls-verify=false docker://$reg/bench:1 oci:$work/pull-s:bench:1"
    # skopeo remembers where a blob already is in a registry (its blob-info cache) and mounts
    # it from there instead of uploading; hezi keeps no such cache, so for a like-for-like
    # upload the cache is moved aside for the push row (and put back after it).
    bic=/var/lib/containers/cache/blob-info-cache-v1.boltdb
    [ -f "$bic" ] && mv "$bic" "$work/bic.saved"
    hf "push (5 x 100 MB layers)" --runs 5 --warmup 1 --prepare "rm -f $bic" \
        -n "hezi image push" "$h image push bench:1 docker://$reg/push-h-\$(date +%s%N):1" \
        -n "skopeo copy oci: docker://" "skopeo copy -q --dest-tls-verify=false oci:$work/big:bench:1 docker://$reg/push-s-\$(date +%s%N):1"
    rm -f "$bic"
    [ -f "$work/bic.saved" ] && mv "$work/bic.saved" "$bic"
    table "Registry on loopback: a ~500 MB image of 5 layers" \
        "$work/pull (5 x 100 MB layers).json" "$work/push (5 x 100 MB layers).json"
    kill "$regpid" 2>/dev/null || true
fi

if want runtime && [ "$(id -u)" -eq 0 ]; then
    echo "<!-- bench:notes -->" >>"$out"
    cat scripts/bench_notes.md >>"$out"
fi

# Sections not run this time keep their figures from the previous docs/benchmarks.md (each
# section is delimited by a <!-- bench:NAME --> marker), so one section can be re-measured
# alone.
python3 - "$out" docs/benchmarks.md <<'PY'
import re, sys
order = ["digest", "runtime", "seccomp", "unpack", "image", "registry", "notes"]
def split(text):
    parts = re.split(r"^<!-- bench:(\w+) -->\n", text, flags=re.M)
    return parts[0], dict(zip(parts[1::2], parts[2::2]))
head, new = split(open(sys.argv[1]).read())
try:
    _, old = split(open(sys.argv[2]).read())
except FileNotFoundError:
    old = {}
with open(sys.argv[1], "w") as f:
    f.write(head)
    for name in order:
        body = new.get(name, old.get(name))
        if body is not None:
            f.write(f"<!-- bench:{name} -->\n{body}")
PY
cp "$out" docs/benchmarks.md
echo "wrote docs/benchmarks.md" >&2
cat docs/benchmarks.md
