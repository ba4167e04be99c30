#!/usr/bin/env bash
# Installs the pinned btcd and btcctl binaries used by the integration tests
# into <repo>/.tools/bin. Safe to run repeatedly: it does nothing when both
# binaries are already present and btcd runs.
set -euo pipefail

BTCD_VERSION="v0.26.2"

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "${script_dir}/.." && pwd)"
bin_dir="${repo_root}/.tools/bin"

if [[ -x "${bin_dir}/btcd" && -x "${bin_dir}/btcctl" ]] &&
	"${bin_dir}/btcd" --version >/dev/null 2>&1; then
	echo "install-tools: btcd and btcctl already in ${bin_dir}"
	exit 0
fi

mkdir -p "${bin_dir}"
echo "install-tools: installing btcd and btcctl ${BTCD_VERSION} into ${bin_dir}"
# Run outside the repo's module so its go.mod is neither read nor modified.
(
	cd "${bin_dir}"
	GOBIN="${bin_dir}" GOFLAGS=-mod=mod GO111MODULE=on go install \
		"github.com/btcsuite/btcd@${BTCD_VERSION}" \
		"github.com/btcsuite/btcd/cmd/btcctl@${BTCD_VERSION}"
)
"${bin_dir}/btcd" --version
