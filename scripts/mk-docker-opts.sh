#!/bin/sh
# mk-docker-opts.sh: Docker's --bip/--mtu/--ip-masq from flannel's subnet file, with the flags and
# defaults of flannel's script; the work is done by `flanneld docker-opts`.
usage() {
	cat >&2 <<USAGE
$0 [-f FLANNEL-ENV-FILE] [-d DOCKER-ENV-FILE] [-i] [-c] [-m] [-k COMBINED-KEY]
	-f	flannel's subnet file (default /run/flannel/subnet.env)
	-d	the Docker environment file to write (default /run/docker_opts.env)
	-i	write each option as its own variable (DOCKER_OPT_BIP=...)
	-c	write the combined options into the DOCKER_OPTS variable
	-k	the combined variable's name (default DOCKER_OPTS)
	-m	leave out --ip-masq
USAGE
	exit 1
}
flannel_env=/run/flannel/subnet.env
docker_env=/run/docker_opts.env
key=DOCKER_OPTS
extra=""
while getopts "f:d:icmk:h" opt; do
	case $opt in
		f) flannel_env=$OPTARG ;;
		d) docker_env=$OPTARG ;;
		i) extra="$extra -i" ;;
		c) extra="$extra -c" ;;
		m) extra="$extra -m" ;;
		k) key=$OPTARG ;;
		*) usage ;;
	esac
done
# shellcheck disable=SC2086
exec "@BINDIR@/flanneld" docker-opts -f "$flannel_env" -d "$docker_env" -k "$key" $extra
