# --- proxy and package index (lifecycle/steps/proxy.sh) ---
if [ -n "$HTTP_PROXY_URL" ]; then export http_proxy=$HTTP_PROXY_URL HTTP_PROXY=$HTTP_PROXY_URL; fi
if [ -n "$HTTPS_PROXY_URL" ]; then export https_proxy=$HTTPS_PROXY_URL HTTPS_PROXY=$HTTPS_PROXY_URL; fi
if [ -n "$NO_PROXY_LIST" ]; then export no_proxy=$NO_PROXY_LIST NO_PROXY=$NO_PROXY_LIST; fi
if [ -n "$PIP_INDEX" ]; then export PIP_INDEX_URL=$PIP_INDEX; fi
if [ -n "$PIP_EXTRA_INDEX" ]; then export PIP_EXTRA_INDEX_URL=$PIP_EXTRA_INDEX; fi
if [ -n "$PIP_TRUSTED" ]; then export PIP_TRUSTED_HOST=$PIP_TRUSTED; fi
step_pip_conf() { # the same index and proxy for the user's own pip in this Python
  local prefix
  prefix=$("$PY" -c 'import sys; print(sys.prefix)')
  printf '%s' "$PIP_CONF" | put "$prefix/pip.conf"
}
