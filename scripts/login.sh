#!/usr/bin/env bash
# Signs a user in with curl the way the web front-end does — authorization
# code with PKCE through oc-auth's login page — and prints the access token.
#   TOKEN=$(scripts/login.sh admin 'the-password')
# OC_URL (default http://localhost:8000) is the peer's public URL.
set -euo pipefail
user=${1:?usage: login.sh USER [PASSWORD]}
password=${2:-}
if [ -z "$password" ]; then read -rsp "password for $user: " password; echo >&2; fi
base=${OC_URL:-http://localhost:8000}
redirect="$base/callback"
b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
verifier=$(head -c 32 /dev/urandom | b64url)
challenge=$(printf '%s' "$verifier" | openssl dgst -sha256 -binary | b64url)
state=$(head -c 16 /dev/urandom | b64url)
jar=$(mktemp); trap 'rm -f "$jar"' EXIT

# 1. The authorization request leads to the login page, which carries the request id.
page=$(curl -fsSL -c "$jar" -b "$jar" -G "$base/auth/authorize" \
  --data-urlencode client_id=opencloud-web --data-urlencode response_type=code \
  --data-urlencode "scope=openid profile offline_access" --data-urlencode "redirect_uri=$redirect" \
  --data-urlencode "code_challenge=$challenge" --data-urlencode code_challenge_method=S256 \
  --data-urlencode "state=$state")
id=$(printf '%s' "$page" | sed -n 's/.*name="id" value="\([^"]*\)".*/\1/p' | head -n1)
[ -n "$id" ] || { echo "login.sh: no login page at $base/auth/authorize" >&2; exit 1; }

# 2. Posting the credentials leads, through oc-auth's own redirects, to the
#    front-end's callback with a code; stop there (nothing need listen on it).
location=$(curl -sS -o /dev/null -w '%{redirect_url}' -c "$jar" -b "$jar" "$base/auth/login" \
  --data-urlencode "id=$id" --data-urlencode "username=$user" --data-urlencode "password=$password")
for _ in 1 2 3 4 5; do
  case "$location" in "$redirect"*|"") break ;; esac
  location=$(curl -sS -o /dev/null -w '%{redirect_url}' -c "$jar" -b "$jar" "$location")
done
code=$(printf '%s' "$location" | sed -n 's/.*[?&]code=\([^&]*\).*/\1/p')
[ -n "$code" ] || { echo "login.sh: sign-in refused for $user" >&2; exit 1; }

# 3. The code and the PKCE verifier buy the tokens.
curl -fsS "$base/auth/oauth/token" -d grant_type=authorization_code --data-urlencode "code=$code" \
  --data-urlencode "redirect_uri=$redirect" -d client_id=opencloud-web --data-urlencode "code_verifier=$verifier" |
  sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p'
