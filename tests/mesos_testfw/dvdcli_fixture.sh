#!/bin/sh
# A recording stand-in for dvdcli, installed at /usr/bin/dvdcli inside an agent root by the tests.
# Every invocation is appended to /var/log/dvdcli.log; "mount" prints the mount point it "created".
echo "$*" >> /var/log/dvdcli.log
name=""
for arg in "$@"; do
  case "$arg" in
    --volumename=*) name="${arg#--volumename=}" ;;
  esac
done
case "$1" in
  mount)
    mkdir -p "/var/lib/dvdcli/volumes/$name"
    echo "/var/lib/dvdcli/volumes/$name"
    ;;
  unmount) ;;
  *) echo "unknown command $1" >&2; exit 2 ;;
esac
