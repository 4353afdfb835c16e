#!/usr/bin/env bash
# postie send against its anchors, in one run (write-up: bench/send/RESULTS.md):
#   N messages (default 500) with a 100 KB attachment each, to a local aiosmtpd sink and to
#   a local Postfix, plain and STARTTLS+AUTH, sent by
#   - postie send --batch (one connection),
#   - postie send once per message in a shell loop,
#   - postie send --message once per message (the same prebuilt message as msmtp's),
#   - msmtp once per message (a prebuilt message, as msmtp cannot build MIME),
#   - Python smtplib over one connection (building each message with the email package);
#   then postie's peak RSS for one message with a 40 MiB attachment.
# Needs: a release build (cargo build --release), the venv with aiosmtpd, msmtp, postfix,
# sasl2-bin, openssl, GNU time, bc. Run as root (Postfix with its own config folder).
# POSTIE_BASE=/path/to/older/postie adds its batch and loop runs (a regression check in the
# same run); CLIENTS='postie-batch msmtp-loop' runs a subset.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
N=${N:-500}
POSTIE=${POSTIE:-$ROOT/target/release/postie}
PY=${POSTIE_VENV:-/opt/postie-venv}/bin/python
W=$(mktemp -d /tmp/postie-bench-send.XXXXXX)
chmod 755 "$W"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$W/pf/main.cf" ] && postfix -c "$W/pf" stop >/dev/null 2>&1 || true
  sleep 1
  rm -rf "$W"
}
trap cleanup EXIT

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 not ready" >&2; return 1; }

echo "== setup in $W"
cd "$W"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=bench CA" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr -subj /CN=localhost 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > ext.cnf
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile ext.cnf 2>/dev/null
head -c 102400 /dev/urandom > att.bin
head -c 41943040 /dev/urandom > big.bin
export BENCH_PW=bench-pw

# aiosmtpd: plain, and STARTTLS + AUTH; messages are discarded after DATA.
SINK=$ROOT/tests/support/smtp_sink.py
A_PLAIN=$(free_port); A_AUTH=$(free_port)
"$PY" "$SINK" --port "$A_PLAIN" --out - >/dev/null 2>&1 & PIDS+=($!)
"$PY" "$SINK" --port "$A_AUTH" --out - --mode starttls --cert server.pem --key server.key --auth "ann:$BENCH_PW" >/dev/null 2>&1 & PIDS+=($!)

# Postfix with its own config folder: a plain listener and a submission listener
# (STARTTLS required, SASL via Cyrus sasldb), virtual Maildir delivery.
P_PLAIN=$(free_port); P_AUTH=$(free_port)
mkdir -p pf/queue pf/data pf/mail pf/sasl
chown postfix:postfix pf/data
chown 5000:5000 pf/mail
cat > pf/main.cf <<EOF
compatibility_level = 3.6
queue_directory = $W/pf/queue
data_directory = $W/pf/data
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.postie.test
mydestination =
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
maillog_file = $W/pf/maillog
maillog_file_prefixes = $W
message_size_limit = 104857600
virtual_mailbox_limit = 209715200
virtual_mailbox_domains = example.org
virtual_mailbox_base = $W/pf/mail
virtual_mailbox_maps = texthash:$W/pf/vmailbox
virtual_uid_maps = static:5000
virtual_gid_maps = static:5000
smtpd_tls_cert_file = $W/server.pem
smtpd_tls_key_file = $W/server.key
smtpd_tls_security_level = may
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = $W/pf/sasl
smtpd_sasl_local_domain = postie.test
EOF
cat > pf/master.cf <<EOF
127.0.0.1:$P_PLAIN inet n - n - - smtpd
127.0.0.1:$P_AUTH inet n - n - - smtpd -o smtpd_tls_security_level=encrypt -o smtpd_sasl_auth_enable=yes -o smtpd_recipient_restrictions=permit_sasl_authenticated,reject
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
tlsmgr unix - - n 1000? 1 tlsmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
smtp unix - - n - - smtp
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
local unix - n n - - local
virtual unix - n n - - virtual
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
EOF
printf 'bob@example.org example.org/bob/\n' > pf/vmailbox
printf 'pwcheck_method: auxprop\nauxprop_plugin: sasldb\nmech_list: PLAIN LOGIN\nsasldb_path: %s/pf/sasl/sasldb2\n' "$W" > pf/sasl/smtpd.conf
printf '%s' "$BENCH_PW" | saslpasswd2 -p -c -f pf/sasl/sasldb2 -u postie.test ann
chown -R postfix:postfix pf/sasl
postfix -c "$W/pf" start >/dev/null 2>&1
for p in "$A_PLAIN" "$A_AUTH" "$P_PLAIN" "$P_AUTH"; do wait_port "$p"; done

# The same message for everyone: postie composes it once for msmtp.
"$POSTIE" send --dry-run --from ann@example.org --to bob@example.org --subject "bench" \
  --body "hello" -a att.bin > msg.eml
for i in $(seq "$N"); do
  printf '{"to":"bob@example.org","subject":"bench %s","body":"hello","attach":"%s"}\n' "$i" "$W/att.bin"
done > batch.jsonl
cat > smtplib_send.py <<'EOF'
import smtplib, ssl, sys
from email.message import EmailMessage
host, port, mode, n, att = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
data = open(att, "rb").read()
s = smtplib.SMTP(host, port)
if mode == "auth":
    s.starttls(context=ssl.create_default_context(cafile="ca.pem"))
    s.login("ann", "bench-pw")
for i in range(n):
    m = EmailMessage()
    m["From"] = "ann@example.org"; m["To"] = "bob@example.org"; m["Subject"] = "bench %d" % i
    m.set_content("hello")
    m.add_attachment(data, maintype="application", subtype="octet-stream", filename="att.bin")
    s.send_message(m)
s.quit()
EOF

postie_args() { # mode port
  if [ "$1" = plain ]; then echo "--server smtp://127.0.0.1:$2 --tls none"
  else echo "--server smtp://localhost:$2 --cacert $W/ca.pem --user ann --password-env BENCH_PW"; fi
}
msmtp_args() {
  if [ "$1" = plain ]; then echo "--host=127.0.0.1 --port=$2 --tls=off --auth=off"
  else echo "--host=localhost --port=$2 --tls=on --tls-starttls=on --tls-trust-file=$W/ca.pem --auth=plain --user=ann --passwordeval=echo\ $BENCH_PW"; fi
}
run_postie_batch() { # mode port
  # shellcheck disable=SC2046
  "$POSTIE" send $(postie_args "$1" "$2") --from ann@example.org --batch batch.jsonl > batch.out
  [ "$(grep -c '"ok":true' batch.out)" = "$N" ] || { echo "batch: not all sent" >&2; return 1; }
}
run_postie_loop() {
  for i in $(seq "$N"); do
    # shellcheck disable=SC2046
    "$POSTIE" send $(postie_args "$1" "$2") --from ann@example.org --to bob@example.org \
      --subject "bench $i" --body hello -a att.bin
  done
}
run_postie_message_loop() {
  for _ in $(seq "$N"); do
    # shellcheck disable=SC2046
    "$POSTIE" send $(postie_args "$1" "$2") --from ann@example.org --message msg.eml bob@example.org
  done
}
run_base_batch() { POSTIE=$POSTIE_BASE run_postie_batch "$@"; }
run_base_loop() { POSTIE=$POSTIE_BASE run_postie_loop "$@"; }
run_msmtp_loop() {
  local args; args=$(msmtp_args "$1" "$2")
  for _ in $(seq "$N"); do
    eval msmtp "$args" --from=ann@example.org -- bob@example.org < msg.eml
  done
}
run_smtplib() {
  local host=127.0.0.1; [ "$1" = auth ] && host=localhost
  "$PY" smtplib_send.py "$host" "$2" "$1" "$N" att.bin
}

timed() { # label cmd...: prints seconds
  local start end
  start=$(date +%s.%N)
  "$@" || { echo "FAILED: $*" >&2; exit 1; }
  end=$(date +%s.%N)
  echo "$end - $start" | bc
}

echo "== $N messages with a 100 KB attachment each"
printf '%-9s %-6s %-19s %9s %9s\n' server mode client seconds msg/s
declare -A T
read -ra clients <<< "${CLIENTS:-postie-batch postie-loop postie-message-loop msmtp-loop smtplib}"
[ -n "${POSTIE_BASE:-}" ] && clients+=(base-batch base-loop)
for server in aiosmtpd postfix; do
  for mode in plain auth; do
    case $server-$mode in
      aiosmtpd-plain) port=$A_PLAIN ;; aiosmtpd-auth) port=$A_AUTH ;;
      postfix-plain) port=$P_PLAIN ;; postfix-auth) port=$P_AUTH ;;
    esac
    for client in "${clients[@]}"; do
      s=$(timed "run_${client//-/_}" "$mode" "$port")
      T[$server-$mode-$client]=$s
      printf '%-9s %-6s %-19s %9.2f %9.1f\n' "$server" "$mode" "$client" "$s" "$(echo "$N / $s" | bc -l)"
    done
  done
done

echo "== ratios (throughput; goals: batch >= 3 x smtplib, loop and --message loop >= 2 x msmtp)"
# A ratio of two timings, or "-" when one of them was not run (CLIENTS=).
ratio() {
  if [ -n "${T[$1]:-}" ] && [ -n "${T[$2]:-}" ]; then
    printf '%.2f' "$(echo "${T[$1]} / ${T[$2]}" | bc -l)"
  else
    printf -- '-'
  fi
}
for key in aiosmtpd-plain aiosmtpd-auth postfix-plain postfix-auth; do
  printf '%-15s batch/smtplib %6s x   loop/msmtp %6s x   --message/msmtp %6s x' "$key" \
    "$(ratio "$key-smtplib" "$key-postie-batch")" "$(ratio "$key-msmtp-loop" "$key-postie-loop")" \
    "$(ratio "$key-msmtp-loop" "$key-postie-message-loop")"
  if [ -n "${POSTIE_BASE:-}" ]; then
    printf '   base/postie: batch %5s loop %5s' \
      "$(ratio "$key-base-batch" "$key-postie-batch")" "$(ratio "$key-base-loop" "$key-postie-loop")"
  fi
  echo
done

echo "== peak RSS, one message with a 40 MiB attachment (goal < 150 MiB)"
/usr/bin/time -f '%M' -o rss.dry "$POSTIE" send --dry-run --from ann@example.org --to bob@example.org --body x -a big.bin > /dev/null
# shellcheck disable=SC2046
/usr/bin/time -f '%M' -o rss.send "$POSTIE" send $(postie_args auth "$P_AUTH") --from ann@example.org --to bob@example.org --body x -a big.bin
printf 'dry-run: %.1f MiB   sent over STARTTLS+AUTH to Postfix: %.1f MiB\n' \
  "$(echo "$(cat rss.dry) / 1024" | bc -l)" "$(echo "$(cat rss.send) / 1024" | bc -l)"
