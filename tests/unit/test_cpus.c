#include "../../shared/cpus.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

static void parse_cpu_max(void) {
  double c = -1;
  TEST("cpu.max");
  CHECK_INT(cpus_parse_cpu_max("max 100000\n", &c), 0);
  CHECK(c == 0);
  CHECK_INT(cpus_parse_cpu_max("max", &c), 0);
  CHECK(c == 0);
  CHECK_INT(cpus_parse_cpu_max("150000 100000\n", &c), 0);
  CHECK(c == 1.5);
  CHECK_INT(cpus_parse_cpu_max("50000 100000", &c), 0);
  CHECK(c == 0.5);
  CHECK_INT(cpus_parse_cpu_max("", &c), -1);
  CHECK_INT(cpus_parse_cpu_max("150000", &c), -1);
  CHECK_INT(cpus_parse_cpu_max("0 100000", &c), -1);
  CHECK_INT(cpus_parse_cpu_max("-5 100000", &c), -1);
  CHECK_INT(cpus_parse_cpu_max("maxx 100000", &c), -1);
  CHECK_INT(cpus_parse_cpu_max("100 200 300", &c), -1);
}

static void parse_cfs(void) {
  double c = -1;
  TEST("cfs quota");
  CHECK_INT(cpus_parse_cfs("-1\n", "100000\n", &c), 0);
  CHECK(c == 0);
  CHECK_INT(cpus_parse_cfs("200000\n", "100000\n", &c), 0);
  CHECK(c == 2);
  CHECK_INT(cpus_parse_cfs("25000", "100000", &c), 0);
  CHECK(c == 0.25);
  CHECK_INT(cpus_parse_cfs("abc", "100000", &c), -1);
  CHECK_INT(cpus_parse_cfs("1000", "0", &c), -1);
  CHECK_INT(cpus_parse_cfs("-2", "100000", &c), -1);
}

static void cgroup_path(void) {
  char out[64];
  const char *v1 = "12:pids:/user.slice\n"
                   "3:cpu,cpuacct:/docker/abc\n"
                   "2:cpuacct:/other\n"
                   "0::/\n";
  TEST("cgroup path");
  CHECK_INT(cpus_cgroup_path(v1, 0, out, sizeof out), 0);
  CHECK_STR(out, "/docker/abc");
  CHECK_INT(cpus_cgroup_path(v1, 1, out, sizeof out), 0);
  CHECK_STR(out, "/");
  CHECK_INT(cpus_cgroup_path("0::/kubepods.slice/pod1/c2\n", 1, out, sizeof out), 0);
  CHECK_STR(out, "/kubepods.slice/pod1/c2");
  CHECK_INT(cpus_cgroup_path("0::/kubepods.slice/pod1/c2\n", 0, out, sizeof out), -1);
  /* cpuacct alone is not the cpu controller. */
  CHECK_INT(cpus_cgroup_path("2:cpuacct:/x\n", 0, out, sizeof out), -1);
  CHECK_INT(cpus_cgroup_path("1:cpu:/x", 0, out, sizeof out), 0);
  CHECK_STR(out, "/x");
  CHECK_INT(cpus_cgroup_path("0::/a-very-long-path-that-does-not-fit-in-eight", 1, out, 8), -1);
  CHECK_INT(cpus_cgroup_path("", 1, out, sizeof out), -1);
  CHECK_INT(cpus_cgroup_path("garbage\n", 1, out, sizeof out), -1);
}

static void combine(void) {
  TEST("combine");
  CHECK_INT(cpus_combine(8, 0), 8);
  CHECK_INT(cpus_combine(8, 2), 2);
  CHECK_INT(cpus_combine(8, 1.5), 2);
  CHECK_INT(cpus_combine(8, 0.1), 1);
  CHECK_INT(cpus_combine(2, 16), 2);
  CHECK_INT(cpus_combine(1, 0), 1);
  CHECK_INT(cpus_combine(0, 0), 1);
}

/* ---- a fixture tree standing in for /proc and /sys ---- */

static int put(const char *root, const char *rel, const char *text) {
  char path[512];
  snprintf(path, sizeof path, "%s%s", root, rel);
  /* Make the parent directories. */
  for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
    *p = '\0';
    mkdir(path, 0755);
    *p = '/';
  }
  FILE *f = fopen(path, "w");
  if (!f)
    return -1;
  fputs(text, f);
  return fclose(f);
}

/* Empty the tree (keep root) between cases. */
static void remove_tree(const char *root) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s/proc' '%s/sys'", root, root);
  if (system(cmd) != 0)
    fprintf(stderr, "cannot remove %s\n", root);
}

static long affinity(void) {
  cpu_set_t set;
  return sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
}

static void fixture_trees(void) {
  char root[] = "/tmp/rp-cpus-XXXXXX";
  TEST("fixture trees");
  if (!mkdtemp(root)) {
    CHECK(!"mkdtemp");
    return;
  }
  /* Nothing readable: the affinity mask alone. */
  CHECK_INT(cpus_available_at(root), affinity());

  /* v2, the limit on a parent (a pod) and none on the container itself. */
  CHECK_INT(put(root, "/proc/self/cgroup", "0::/kubepods/pod1/c1\n"), 0);
  CHECK_INT(put(root, "/sys/fs/cgroup/kubepods/pod1/c1/cpu.max", "max 100000\n"), 0);
  CHECK_INT(put(root, "/sys/fs/cgroup/kubepods/pod1/cpu.max", "50000 100000\n"), 0);
  CHECK_INT(cpus_available_at(root), 1);
  remove_tree(root);

  /* v2 in a container without a cgroup namespace: the host path does not
   * exist inside, the container's own cgroup is the mount point. */
  CHECK_INT(put(root, "/proc/self/cgroup", "0::/system.slice/docker-1.scope\n"), 0);
  CHECK_INT(put(root, "/sys/fs/cgroup/cpu.max", "100000 100000\n"), 0);
  CHECK_INT(cpus_available_at(root), 1);
  remove_tree(root);

  /* v1 with cpu,cpuacct joined. */
  CHECK_INT(put(root, "/proc/self/cgroup", "4:memory:/x\n3:cpu,cpuacct:/docker/abc\n0::/\n"), 0);
  CHECK_INT(put(root, "/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "70000\n"), 0);
  CHECK_INT(put(root, "/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n"), 0);
  CHECK_INT(cpus_available_at(root), 1);
  remove_tree(root);

  /* v1, unlimited: the affinity mask. */
  CHECK_INT(put(root, "/proc/self/cgroup", "1:cpu:/\n"), 0);
  CHECK_INT(put(root, "/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "-1\n"), 0);
  CHECK_INT(put(root, "/sys/fs/cgroup/cpu/cpu.cfs_period_us", "100000\n"), 0);
  CHECK_INT(cpus_available_at(root), affinity());
  remove_tree(root);

  /* The real machine gives a sane count. */
  CHECK(cpus_available() >= 1 && cpus_available() <= affinity());
  rmdir(root);
}

void suite_cpus(void) {
  parse_cpu_max();
  parse_cfs();
  cgroup_path();
  combine();
  fixture_trees();
}
