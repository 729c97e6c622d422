#!/bin/sh
# Give bcc kernel headers on a kernel whose own headers are not packaged (such as CI's Firecracker kernel):
# bcc compiles against /lib/modules/$(uname -r)/build, so link the newest installed linux-headers there. Safe
# only with BTF: sysnb's bcc engine then resolves every kernel struct offset from the kernel's BTF and takes
# from the headers only ABI-stable types (pt_regs, iovec, msghdr). Without BTF it refuses headers of another
# kernel, so there install linux-headers-$(uname -r) instead. Does nothing when the headers are in place.
set -eu
mod="/lib/modules/$(uname -r)"
[ -e "$mod/build" ] && exit 0
if [ ! -r /sys/kernel/btf/vmlinux ]; then
  echo "bcc_kernel_headers: no BTF here: install linux-headers-$(uname -r) instead" >&2
  exit 1
fi
arch=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n 1)
common=$(ls -d /usr/src/linux-headers-*-common 2>/dev/null | sort -V | tail -n 1)
if [ -z "$arch" ] || [ -z "$common" ]; then
  echo "bcc_kernel_headers: no linux-headers installed (apt-get install linux-headers-amd64)" >&2
  exit 1
fi
mkdir -p "$mod"
ln -sfn "$arch" "$mod/build"
ln -sfn "$common" "$mod/source"
echo "bcc_kernel_headers: $mod/build -> $arch (offsets come from BTF)"
