#!/usr/bin/env sh
# Writes an overlay's Secret inputs, with fresh random values:
#   <overlay>/secrets/s3-root.env         access-key, secret-key (the S3 root user)
#   <overlay>/secrets/cluster-secret.env  cluster-secret (internal gRPC)
#   <overlay>/secrets/master.key          the master key of encryption at rest
#                                         (docs/encryption.md: back it up; losing it
#                                         loses every SSE-S3 and SSE-KMS object)
# Existing files are kept (changing the cluster secret of a running cluster
# needs every pod restarted; see docs/operations.md). They are never committed.
#   deploy/k8s/generate-secrets.sh deploy/k8s/overlays/production
set -eu
overlay=${1:?usage: generate-secrets.sh <overlay directory>}
dir="$overlay/secrets"
mkdir -p "$dir"
umask 077
random() { # $1 bytes of randomness, URL-safe text
    head -c "$1" /dev/urandom | base64 | tr -d '\n=' | tr '+/' '-_'
}
if [ ! -e "$dir/s3-root.env" ]; then
    key="TS$(head -c 9 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr 'a-f' 'A-F')"
    printf 'access-key=%s\nsecret-key=%s\n' "$key" "$(random 30)" > "$dir/s3-root.env"
    echo "wrote $dir/s3-root.env"
fi
if [ ! -e "$dir/cluster-secret.env" ]; then
    printf 'cluster-secret=%s\n' "$(random 32)" > "$dir/cluster-secret.env"
    echo "wrote $dir/cluster-secret.env"
fi
if [ ! -e "$dir/master.key" ]; then
    head -c 32 /dev/urandom | base64 > "$dir/master.key"
    echo "wrote $dir/master.key"
fi
