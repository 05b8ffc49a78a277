# Archer's command-evaluator protocol for a shell script:  . ./archer_trial.sh
#   archer_trial                  prints the trial's JSON (arch, fidelity, seed, checkpoint_dir, ...)
#   archer_get KEY                one top-level value of it, e.g. `archer_get seed` (needs python3 or jq)
#   archer_report STEP K V [K V]  an intermediate report: {"step": STEP, "K": V, ...}
#   archer_final K V [K V ...]    the result: {"final": {"K": V, ...}}; print once, then exit 0
archer_trial() { cat "${ARCHER_TRIAL:?not run by Archer}"; }
archer_get() {
  if command -v jq >/dev/null; then jq -c ".$1" "$ARCHER_TRIAL"
  else python3 -c "import json,sys; print(json.dumps(json.load(open(sys.argv[1]))[sys.argv[2]]))" "$ARCHER_TRIAL" "$1"; fi
}
_archer_pairs() {
  local out="" sep=""
  while [ $# -ge 2 ]; do out="$out$sep\"$1\": $2"; sep=", "; shift 2; done
  printf '%s' "$out"
}
archer_report() { local step=$1; shift; printf '{"step": %d, %s}\n' "$step" "$(_archer_pairs "$@")"; }
archer_final() { printf '{"final": {%s}}\n' "$(_archer_pairs "$@")"; }
