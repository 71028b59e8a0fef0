#!/bin/sh
# Regenerates the Go code of the plugin wire contract (plugins/proto/calendar/v1).
# The generated files are committed, so only someone who changes a .proto needs this.
#
# protoc comes from Debian's protobuf-compiler (installed here when missing); the two
# code generators are the versions pinned as tools in go.mod.
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

if ! command -v protoc >/dev/null 2>&1; then
	echo "generate.sh: installing protoc (Debian package protobuf-compiler)" >&2
	if [ "$(id -u)" -ne 0 ]; then
		sudo=sudo
	else
		sudo=
	fi
	$sudo apt-get install -y protobuf-compiler >/dev/null 2>&1 ||
		{ $sudo apt-get update >/dev/null && $sudo apt-get install -y protobuf-compiler >/dev/null; }
fi

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/protoc-gen-go" google.golang.org/protobuf/cmd/protoc-gen-go
go build -o "$bin/protoc-gen-go-grpc" google.golang.org/grpc/cmd/protoc-gen-go-grpc

for dir in plugins/proto/calendar/v1; do
	protoc \
		--plugin=protoc-gen-go="$bin/protoc-gen-go" \
		--plugin=protoc-gen-go-grpc="$bin/protoc-gen-go-grpc" \
		-I plugins/proto \
		--go_out=plugins/proto --go_opt=paths=source_relative \
		--go-grpc_out=plugins/proto --go-grpc_opt=paths=source_relative \
		"$dir"/*.proto
done
echo "generate.sh: $(protoc --version), code in plugins/proto" >&2
