#!/usr/bin/env bash
# postie pop3 pull against mpop, Python poplib and fetchmail, the same Dovecot, in one run:
# 2,000 messages of ~52 KB and 200 of ~5 MB, plain and STLS. Wall time with hyperfine,
# peak RSS with /usr/bin/time -v. Needs: dovecot-core dovecot-pop3d mpop fetchmail hyperfine
# time openssl python3, and `cargo build --release`. Run as root (Dovecot's mail uid 5000).
# Usage: bench/pop3/run.sh [RUNS]   (results in bench/pop3/results/)
# POSTIE_BENCH_SETS='20 52000 small' for a quick check of the setup; POSTIE_BENCH_MODES='stls',
# POSTIE_BENCH_TOOLS='postie mpop' and POSTIE_BENCH_RESULTS=dir for a partial run;
# POSTIE_BASE=/path/to/older/postie adds the tool `base` (a regression check in the same run).
set -euo pipefail
runs=${1:-3}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
postie=$root/target/release/postie
results=${POSTIE_BENCH_RESULTS:-$here/results}
mkdir -p "$results"
work=$(mktemp -d /tmp/postie-bench-pop3.XXXXXX)
chmod 755 "$work"
pop3=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pop3s=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$here/dovecot.sh" "$work/dovecot" "$pop3" "$pop3s" > /dev/null
stop() { doveadm -c "$work/dovecot/dovecot.conf" stop 2>/dev/null || true; }
trap 'stop; rm -rf "$work"' EXIT
ca=$work/dovecot/ca.pem
export POP_PW="bench pw"
out=$work/out

mpoprc() { # $1 = plain|stls
  local tls=off
  [ "$1" = stls ] && tls=on
  cat > "$work/mpoprc.$1" <<RC
account bench
host localhost
port $pop3
user alice
password bench pw
auth user
tls $tls
tls_starttls on
tls_trust_file $ca
delivery maildir $out
keep on
uidls_file $work/mpop-uidls
RC
  chmod 600 "$work/mpoprc.$1"
}

fetchmailrc() { # $1 = plain|stls
  local ssl="sslproto ''"
  [ "$1" = stls ] && ssl="sslproto tls1.2+ sslcertck sslcertfile $ca"
  cat > "$work/fetchmailrc.$1" <<RC
set no syslog
poll localhost service $pop3 protocol pop3 auth password
  user alice password "bench pw" is root here
  $ssl keep fetchall
  mda "/bin/sh -c 'cat > $out/\$\$.\$(date +%s%N)'"
RC
  chmod 600 "$work/fetchmailrc.$1"
}

cmd_for() { # tool mode
  case $1 in
    postie|base)
      local tls=(--tls none --allow-insecure-auth) bin=$postie
      [ "$2" = stls ] && tls=(--cacert "$ca")
      [ "$1" = base ] && bin=$POSTIE_BASE
      echo "$bin pop3 pull -s --server pop3://localhost:$pop3 --user alice --password-env POP_PW ${tls[*]} --out $out" ;;
    mpop) echo "mpop -q -C $work/mpoprc.$2 bench" ;;
    poplib) echo "python3 $here/poplib_pull.py localhost $pop3 $2 $ca $out" ;;
    fetchmail) echo "fetchmail -s -N -f $work/fetchmailrc.$2 --pidfile $work/fetchmail.pid" ;;
  esac
}

prepare="rm -rf $out $work/mpop-uidls; mkdir -p $out/new $out/cur $out/tmp; sync"
maildir=$work/dovecot/home/alice/Maildir
IFS=';' read -ra sets <<< "${POSTIE_BENCH_SETS:-2000 52000 small;200 5000000 large}"
for set in "${sets[@]}"; do
  read -r count size name <<< "$set"
  rm -rf "$maildir"/new/* "$maildir"/cur/*
  python3 "$here/fill.py" "$maildir" "$count" "$size"
  for mode in ${POSTIE_BENCH_MODES:-plain stls}; do
    mpoprc "$mode"
    fetchmailrc "$mode"
    read -ra tools <<< "${POSTIE_BENCH_TOOLS:-postie mpop poplib fetchmail}"
    [ -n "${POSTIE_BASE:-}" ] && tools+=(base)
    cmds=()
    names=()
    for t in "${tools[@]}"; do
      cmds+=("$(cmd_for "$t" "$mode")")
      names+=(-n "$t")
    done
    r=$runs
    [ "$name" = large ] && r=$(( runs > 2 ? 2 : runs ))
    hyperfine -N --runs "$r" --prepare "sh -c '$prepare'" \
      --export-json "$results/$name-$mode.json" \
      "${names[@]}" "${cmds[@]}" || true
    for i in "${!tools[@]}"; do
      sh -c "$prepare"
      /usr/bin/time -v sh -c "exec ${cmds[$i]}" 2> "$results/$name-$mode-${tools[$i]}.time" > /dev/null || true
      got=$(find "$out" -type f ! -name '.*' | wc -l)
      echo "$name $mode ${tools[$i]}: $got messages stored" | tee -a "$results/$name-$mode.counts"
    done
  done
done
python3 "$here/summary.py" "$results" | tee "$results/summary.md"
