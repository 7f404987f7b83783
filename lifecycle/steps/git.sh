# --- git identity and suggested repositories (lifecycle/steps/git.sh) ---
profile_tags() { # profile_tags KEY...: the owner profile's tag values, one per line; <= 30 s
  # resource metadata -> DescribeSpace -> DescribeUserProfile -> ListTags (short boto3 timeouts)
  bounded 30 "$PY" -m smstudio_ext.lcc_runtime profile-tags \
    "${SMSTUDIO_METADATA_PATH:-/opt/ml/metadata/resource-metadata.json}" "$@"
}
git_set() { # git_set KEY VALUE: only when the user has not set it already; as the home's owner
  local cfg="$HOME_DIR/.gitconfig"
  if [ -z "$2" ]; then return 0; fi
  if as_owner git config --file "$cfg" --get "$1" >/dev/null 2>&1; then log "git $1 already set: kept"; return 0; fi
  as_owner git config --file "$cfg" "$1" "$2"
  log "git $1 set"
}
after() { # after JOB: wait (up to an hour) until the background job JOB is over
  local n=0
  while [ ! -e "$STATE_DIR/$1.done" ] && [ "$n" -lt 3600 ]; do sleep 1; n=$((n + 1)); done
  log "waited for $1 (${n} s)"
}
job_git_clone() {
  local i dir
  export GIT_TERMINAL_PROMPT=0
  # a clone must not make the home look non-empty to `restore --if-empty`: restore first
  if [[ ",$FEATURES," == *,restore,* ]]; then after restore; fi
  for ((i = 0; i < ${#GIT_REPOS[@]}; i += 2)); do
    dir="$HOME_DIR/${GIT_REPOS[i + 1]}"
    if [ -e "$dir" ]; then log "$dir exists: not cloned"; continue; fi
    if as_owner nohup git clone --quiet -- "${GIT_REPOS[i]}" "$dir"; then
      log "cloned ${GIT_REPOS[i]} into $dir"
    else
      log "clone of ${GIT_REPOS[i]} failed"
    fi
  done
}
step_git() {
  local name=$GIT_NAME email=$GIT_EMAIL out=""
  if ! command -v git >/dev/null 2>&1; then log "git not found: skipped"; return 0; fi
  if { [ -z "$name" ] || [ -z "$email" ]; } && [ -n "$GIT_NAME_TAG$GIT_EMAIL_TAG" ]; then
    out=$(profile_tags "$GIT_NAME_TAG" "$GIT_EMAIL_TAG") || log "git identity from tags skipped"
    if [ -z "$name" ]; then name=$(sed -n 1p <<<"$out"); fi
    if [ -z "$email" ]; then email=$(sed -n 2p <<<"$out"); fi
  fi
  git_set user.name "$name"
  git_set user.email "$email"
  if [ "${#GIT_REPOS[@]}" -gt 0 ]; then bg git_clone; fi
}
