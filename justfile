# hezi's recipes: each calls a script, so CI and people run the same thing.

# Run a real container from the default busybox image.
demo *ARGS:
    scripts/demo.sh {{ARGS}}

# Every test (as root: also the root-only tests and the cgroup v2 VM suite).
test:
    scripts/test.sh

# Benchmarks beside runc, crun, umoci, openssl and sha256sum; writes docs/benchmarks.md.
bench:
    scripts/bench.sh

# Install the Debian packages tests and benchmarks use.
deps:
    scripts/deps.sh

# Format and lint.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Install the binary, man pages and shell completions (PREFIX, default /usr/local).
install:
    scripts/install.sh

# Write the man pages (one per command) into DIR.
man DIR="target/man":
    cargo run -q -p hezi -- man {{DIR}}

# Package every publishable crate and build each package as crates.io would (no upload).
publish-check:
    cargo publish --dry-run -p hezi-digest -p hezi-spec -p hezi-cgroups -p hezi-seccomp -p hezi-image -p hezi-runtime -p hezi
