#!/usr/bin/env bash
# Installs the imapflow IMAP client (a Node.js package, from the npm
# registry) where TestImapflow looks for it: the user's cache directory,
# unless IMAPFSM_IMAPFLOW names another. Needs node and npm (Debian
# packages nodejs and npm). Does nothing when it is already there.
set -euo pipefail
version=1.7.8
dir=${IMAPFSM_IMAPFLOW:-${XDG_CACHE_HOME:-$HOME/.cache}/imapfsm/imapflow-$version}
if [ -f "$dir/node_modules/imapflow/package.json" ]; then
	exit 0
fi
mkdir -p "$dir"
npm install --prefix "$dir" --no-audit --no-fund --no-save --loglevel=error "imapflow@$version"
echo "imapflow $version installed in $dir"
