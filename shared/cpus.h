/* How many CPUs this process may really use: its affinity mask (taskset,
 * cpuset) bounded by its cgroup's CPU quota (docker --cpus, Kubernetes
 * limits). `workers = 0` starts one worker per such CPU. The parsers are
 * pure so tests can feed them fixture text. */
#ifndef RP_CPUS_H
#define RP_CPUS_H

#include <stddef.h>

/* cgroup v2 `cpu.max` ("max 100000" or "150000 100000"). Sets *cpus to
 * quota/period, or 0 for no limit. Returns 0, or -1 when malformed. */
int cpus_parse_cpu_max(const char *text, double *cpus);

/* cgroup v1 `cpu.cfs_quota_us` and `cpu.cfs_period_us` contents ("-1" =
 * no limit). Same result as cpus_parse_cpu_max. */
int cpus_parse_cfs(const char *quota, const char *period, double *cpus);

/* The cgroup path of this process from /proc/self/cgroup text: the v2 line
 * ("0::/path") when v2 is 1, else the v1 line whose controller list holds
 * "cpu". Copies it into out. Returns 0, or -1 when absent or too long. */
int cpus_cgroup_path(const char *proc_self_cgroup, int v2, char *out, size_t outlen);

/* Affinity count bounded by a quota in CPUs (0 = none), rounded up (1.5
 * CPUs -> 2 workers: the quota is spent over a period, not per CPU). At
 * least 1. */
long cpus_combine(long affinity, double quota_cpus);

/* The CPUs this process may use, read from the kernel under `root` ("" in
 * production; a fixture tree in tests). Never fails: falls back to the
 * online CPU count, then 1. */
long cpus_available_at(const char *root);
long cpus_available(void);

#endif
