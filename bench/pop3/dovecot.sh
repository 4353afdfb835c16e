#!/usr/bin/env bash
# Starts a Dovecot of its own (fixtures/pop3/dovecot.conf.in) in folder $1 on ports $2 (pop3)
# and $3 (pop3s), with user alice / password "bench pw" and a test CA in $1/ca.pem.
# Prints the dovecot PID. Stop it with: doveadm -c $1/dovecot.conf stop
set -euo pipefail
dir=$1 pop3=$2 pop3s=$3
here=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$dir"
chmod 755 "$dir"
cd "$dir"
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.pem -days 2 -subj "/CN=bench CA" 2>/dev/null
openssl req "${ec[@]}" -keyout server.key -out server.csr -subj /CN=localhost 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' > ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem \
  -days 2 -extfile ext 2>/dev/null
echo 'alice:{PLAIN}bench pw::::::' > passwd
chmod 644 passwd
mkdir -p home/alice/Maildir/{new,cur,tmp}
chown -R 5000:5000 home
sed -e "s#@DIR@#$dir#g; s#@POP3_PORT@#$pop3#; s#@POP3S_PORT@#$pop3s#; s#@LOCK_SESSION@#no#" \
  "$here/fixtures/pop3/dovecot.conf.in" > dovecot.conf
dovecot -F -c dovecot.conf > /dev/null 2>&1 &
echo $!
for _ in $(seq 100); do
  (exec 3<>/dev/tcp/127.0.0.1/"$pop3") 2>/dev/null && exit 0
  sleep 0.1
done
echo "dovecot did not start" >&2
exit 1
