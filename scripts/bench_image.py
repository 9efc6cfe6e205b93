#!/usr/bin/env python3
"""Builds the unpack benchmark image: an OCI layout of a Debian rootfs (layer 1) plus a
second layer that deletes files (whiteouts), deletes a directory's contents (opaque
whiteout), replaces files and adds hardlinks.

usage: bench_image.py DEBIAN_ROOTFS OUT_DIR
writes OUT_DIR/layout (ref debian:bench) and OUT_DIR/layers/{1,2}.tar.gz
"""
import gzip, hashlib, io, json, os, subprocess, sys, tarfile

src, out = sys.argv[1], sys.argv[2]
layout, layers_dir = os.path.join(out, "layout"), os.path.join(out, "layers")
os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
os.makedirs(layers_dir, exist_ok=True)

def blob(data, media_type):
    d = hashlib.sha256(data).hexdigest()
    with open(os.path.join(layout, "blobs", "sha256", d), "wb") as f:
        f.write(data)
    return {"mediaType": media_type, "digest": "sha256:" + d, "size": len(data)}

# Layer 1: the whole rootfs, packed by GNU tar (numeric owners, as an image build would).
l1 = subprocess.run(["tar", "--numeric-owner", "--xattrs", "-C", src, "-cf", "-", "."],
                    check=True, stdout=subprocess.PIPE).stdout

# Layer 2: deletions, an opaque directory, replaced files and hardlinks.
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
    def add_file(name, data, mode=0o644):
        ti = tarfile.TarInfo(name); ti.size = len(data); ti.mode = mode; ti.mtime = 1700000000
        t.addfile(ti, io.BytesIO(data))
    def add_whiteout(name):
        add_file(name, b"", 0o600)
    doc = "usr/share/doc"
    victims = sorted(os.listdir(os.path.join(src, doc)))[:40] if os.path.isdir(os.path.join(src, doc)) else []
    ti = tarfile.TarInfo("usr/share/doc"); ti.type = tarfile.DIRTYPE; ti.mode = 0o755; t.addfile(ti)
    for v in victims:
        add_whiteout(f"{doc}/.wh.{v}")
    ti = tarfile.TarInfo("var/cache"); ti.type = tarfile.DIRTYPE; ti.mode = 0o755; t.addfile(ti)
    ti = tarfile.TarInfo("var/cache/apt"); ti.type = tarfile.DIRTYPE; ti.mode = 0o755; t.addfile(ti)
    add_whiteout("var/cache/apt/.wh..wh..opq")
    add_file("var/cache/apt/fresh", b"replaced\n")
    ti = tarfile.TarInfo("etc"); ti.type = tarfile.DIRTYPE; ti.mode = 0o755; t.addfile(ti)
    add_file("etc/motd", b"hezi bench image\n")
    add_file("etc/hostname", b"bench\n")
    for i in range(200):
        add_file(f"opt/bench/file{i}", os.urandom(4096))
    for i in range(200):
        ti = tarfile.TarInfo(f"opt/bench/link{i}"); ti.type = tarfile.LNKTYPE; ti.linkname = f"opt/bench/file{i}"
        t.addfile(ti)
l2 = buf.getvalue()

descs, diff_ids = [], []
for i, raw in enumerate([l1, l2], 1):
    gz = subprocess.run(["gzip", "-6", "-n", "-c"], input=raw, check=True, stdout=subprocess.PIPE).stdout
    with open(os.path.join(layers_dir, f"{i}.tar.gz"), "wb") as f:
        f.write(gz)
    descs.append(blob(gz, "application/vnd.oci.image.layer.v1.tar+gzip"))
    diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
config = {"architecture": "amd64", "os": "linux",
          "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["bash"]},
          "rootfs": {"type": "layers", "diff_ids": diff_ids}}
cd = blob(json.dumps(config).encode(), "application/vnd.oci.image.config.v1+json")
manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": cd, "layers": descs}
md = blob(json.dumps(manifest).encode(), "application/vnd.oci.image.manifest.v1+json")
md["annotations"] = {"org.opencontainers.image.ref.name": "debian:bench"}
with open(os.path.join(layout, "index.json"), "w") as f:
    json.dump({"schemaVersion": 2, "manifests": [md]}, f)
with open(os.path.join(layout, "oci-layout"), "w") as f:
    json.dump({"imageLayoutVersion": "1.0.0"}, f)
print(f"layers: {len(l1)} + {len(l2)} bytes uncompressed")
