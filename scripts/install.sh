#!/usr/bin/env bash
# Installs hezi: the binary (the static release build of scripts/build-release.sh), one man
# page per command and the bash, zsh and fish completions.
#
#   scripts/install.sh                    build and install under /usr/local (as root)
#   PREFIX=/opt/hezi scripts/install.sh   somewhere else
#   scripts/install.sh --bin target/debug/hezi   install an already-built binary, no build
#
# Where things go (PREFIX defaults to /usr/local):
#   $PREFIX/bin/hezi
#   $PREFIX/share/man/man1/hezi.1, hezi-run.1, ...          (MANDIR overrides)
#   /usr/share/bash-completion/completions/hezi when that directory exists (bash-completion's),
#   else /etc/bash_completion.d/hezi                        (BASH_COMPLETION_DIR overrides)
#   $PREFIX/share/zsh/site-functions/_hezi
#   $PREFIX/share/fish/vendor_completions.d/hezi.fish
set -euo pipefail
cd "$(dirname "$0")/.."

PREFIX=${PREFIX:-/usr/local}
bin=""
if [ "${1:-}" = --bin ]; then
    bin=${2:?--bin needs a path}
fi

if [ -z "$bin" ]; then
    bin=$(scripts/build-release.sh)
fi
install -D -m 0755 "$bin" "$PREFIX/bin/hezi"
hezi="$PREFIX/bin/hezi"

mandir=${MANDIR:-$PREFIX/share/man/man1}
"$hezi" man "$mandir" >/dev/null
echo "man pages: $mandir/hezi.1 and $(find "$mandir" -name 'hezi-*.1' | wc -l) more"

if [ -z "${BASH_COMPLETION_DIR:-}" ]; then
    if [ -d /usr/share/bash-completion/completions ]; then
        BASH_COMPLETION_DIR=/usr/share/bash-completion/completions
    else
        BASH_COMPLETION_DIR=/etc/bash_completion.d
    fi
fi
mkdir -p "$BASH_COMPLETION_DIR" "$PREFIX/share/zsh/site-functions" "$PREFIX/share/fish/vendor_completions.d"
"$hezi" completion bash >"$BASH_COMPLETION_DIR/hezi"
"$hezi" completion zsh >"$PREFIX/share/zsh/site-functions/_hezi"
"$hezi" completion fish >"$PREFIX/share/fish/vendor_completions.d/hezi.fish"
echo "completions: $BASH_COMPLETION_DIR/hezi, $PREFIX/share/zsh/site-functions/_hezi, $PREFIX/share/fish/vendor_completions.d/hezi.fish"
echo "installed $hezi ($("$hezi" --version | head -1))"
