/* Test oracle for hezi-seccomp: builds a filter with libseccomp and exports it.
 *
 * Reads a line-based description on stdin:
 *   default <action-u32>
 *   arch <libseccomp-arch-token-u32>
 *   rule <action-u32> <syscall-name> <nconds> [<arg> <op> <datum-a> <datum-b>]...
 * and writes the classic BPF program (seccomp_export_bpf) to stdout, or the
 * pseudo filter code when argv[1] is "pfc". Unknown syscall names and rules
 * libseccomp rejects are reported on stderr and skipped (as runc does).
 */
#include <errno.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	char line[4096];
	scmp_filter_ctx ctx = NULL;
	int pfc = argc > 1 && strcmp(argv[1], "pfc") == 0;

	while (fgets(line, sizeof(line), stdin)) {
		char *tok = strtok(line, " \n");
		if (!tok)
			continue;
		if (strcmp(tok, "default") == 0) {
			uint32_t act = strtoul(strtok(NULL, " \n"), NULL, 0);
			ctx = seccomp_init(act);
			if (!ctx) {
				fprintf(stderr, "seccomp_init failed\n");
				return 2;
			}
			seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
		} else if (strcmp(tok, "arch") == 0) {
			uint32_t arch = strtoul(strtok(NULL, " \n"), NULL, 0);
			int rc = seccomp_arch_add(ctx, arch);
			if (rc != 0 && rc != -EEXIST) {
				fprintf(stderr, "arch_add %#x: %d\n", arch, rc);
				return 2;
			}
		} else if (strcmp(tok, "rule") == 0) {
			uint32_t act = strtoul(strtok(NULL, " \n"), NULL, 0);
			char *name = strtok(NULL, " \n");
			unsigned n = strtoul(strtok(NULL, " \n"), NULL, 0);
			struct scmp_arg_cmp cmp[6];
			for (unsigned i = 0; i < n && i < 6; i++) {
				cmp[i].arg = strtoul(strtok(NULL, " \n"), NULL, 0);
				cmp[i].op = strtoul(strtok(NULL, " \n"), NULL, 0);
				cmp[i].datum_a = strtoull(strtok(NULL, " \n"), NULL, 0);
				cmp[i].datum_b = strtoull(strtok(NULL, " \n"), NULL, 0);
			}
			int nr = seccomp_syscall_resolve_name(name);
			if (nr == __NR_SCMP_ERROR) {
				fprintf(stderr, "unknown syscall %s\n", name);
				continue;
			}
			int rc = seccomp_rule_add_array(ctx, act, nr, n, cmp);
			if (rc != 0)
				fprintf(stderr, "rule %s: %d\n", name, rc);
		}
	}
	if (!ctx)
		return 2;
	int rc = pfc ? seccomp_export_pfc(ctx, 1) : seccomp_export_bpf(ctx, 1);
	if (rc != 0) {
		fprintf(stderr, "export failed: %d\n", rc);
		return 2;
	}
	seccomp_release(ctx);
	return 0;
}
