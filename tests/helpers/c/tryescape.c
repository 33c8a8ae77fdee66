/* Tries privileged system calls from inside a container and prints "name=errno" for each
 * (0 when the call succeeded).  Built static by the tests, so that it runs in a busybox rootfs. */
#include <errno.h>
#include <linux/reboot.h>
#include <stdio.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>

static void report(const char *name, long ret) { printf("%s=%d\n", name, ret < 0 ? errno : 0); }

int main(void) {
    /* KEYCTL_GET_KEYRING_ID (0) of the session keyring (-3), creating it if needed */
    report("keyctl", syscall(SYS_keyctl, 0, -3, 1));
    report("add_key", syscall(SYS_add_key, "user", "escape", "x", 1, -3));
    /* LINUX_REBOOT_CMD_CAD_OFF: harmless even if allowed (it only changes ctrl-alt-del handling) */
    report("reboot", syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_CAD_OFF, 0));
    report("ptrace", ptrace(PTRACE_ATTACH, 1, 0, 0));
    report("bpf", syscall(SYS_bpf, 0, 0, 0));
    report("perf_event_open", syscall(SYS_perf_event_open, 0, 0, -1, -1, 0));
    report("userfaultfd", syscall(SYS_userfaultfd, 0));
    report("open_by_handle_at", syscall(SYS_open_by_handle_at, -1, 0, 0));
    report("swapoff", syscall(SYS_swapoff, "/x"));
    report("acct", syscall(SYS_acct, "/x"));
    return 0;
}
