#include "cpus.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A positive decimal integer at *s (leading blanks skipped); advances *s. */
static int parse_positive(const char **s, long long *out) {
  while (**s == ' ' || **s == '\t')
    (*s)++;
  if (!isdigit((unsigned char)**s))
    return -1;
  errno = 0;
  char *end;
  long long v = strtoll(*s, &end, 10);
  if (errno || v <= 0)
    return -1;
  *s = end;
  *out = v;
  return 0;
}

/* Only blanks and one optional newline may follow a value. */
static int at_end(const char *s) {
  while (*s == ' ' || *s == '\t' || *s == '\n')
    s++;
  return *s == '\0';
}

int cpus_parse_cpu_max(const char *text, double *cpus) {
  const char *s = text;
  long long quota, period;
  while (*s == ' ')
    s++;
  if (strncmp(s, "max", 3) == 0) {
    s += 3;
    if (*s && *s != ' ' && *s != '\n')
      return -1;
    if (*s == ' ' && (parse_positive(&s, &period) != 0 || !at_end(s)))
      return -1;
    *cpus = 0;
    return 0;
  }
  if (parse_positive(&s, &quota) != 0 || parse_positive(&s, &period) != 0 || !at_end(s))
    return -1;
  *cpus = (double)quota / (double)period;
  return 0;
}

int cpus_parse_cfs(const char *quota, const char *period, double *cpus) {
  const char *q = quota, *p = period;
  long long qv, pv;
  while (*q == ' ')
    q++;
  if (strncmp(q, "-1", 2) == 0 && at_end(q + 2)) {
    *cpus = 0;
    return 0;
  }
  if (parse_positive(&q, &qv) != 0 || !at_end(q) || parse_positive(&p, &pv) != 0 ||
      !at_end(p))
    return -1;
  *cpus = (double)qv / (double)pv;
  return 0;
}

/* Does the comma-separated controller list [s, end) hold `name`? */
static int has_controller(const char *s, const char *end, const char *name) {
  size_t n = strlen(name);
  while (s < end) {
    const char *comma = memchr(s, ',', (size_t)(end - s));
    const char *stop = comma ? comma : end;
    if ((size_t)(stop - s) == n && memcmp(s, name, n) == 0)
      return 1;
    s = stop + 1;
  }
  return 0;
}

int cpus_cgroup_path(const char *text, int v2, char *out, size_t outlen) {
  for (const char *line = text; line && *line;) {
    const char *nl = strchr(line, '\n');
    const char *end = nl ? nl : line + strlen(line);
    const char *c1 = memchr(line, ':', (size_t)(end - line));
    const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(end - c1 - 1)) : NULL;
    if (c2) {
      int match = v2 ? (c1 - line == 1 && line[0] == '0' && c2 == c1 + 1)
                     : has_controller(c1 + 1, c2, "cpu");
      size_t len = (size_t)(end - c2 - 1);
      if (match && len > 0 && c2[1] == '/') {
        if (len >= outlen)
          return -1;
        memcpy(out, c2 + 1, len);
        out[len] = '\0';
        return 0;
      }
    }
    line = nl ? nl + 1 : NULL;
  }
  return -1;
}

long cpus_combine(long affinity, double quota_cpus) {
  long n = affinity > 0 ? affinity : 1;
  if (quota_cpus > 0) {
    double q = ceil(quota_cpus);
    if (q < (double)n)
      n = (long)q;
  }
  return n > 0 ? n : 1;
}

static int read_small(const char *path, char *buf, size_t size) {
  FILE *f = fopen(path, "re");
  if (!f)
    return -1;
  size_t n = fread(buf, 1, size - 1, f);
  int bad = ferror(f);
  fclose(f);
  if (bad)
    return -1;
  buf[n] = '\0';
  return 0;
}

/* The quota read in one cgroup directory (0 = none or unreadable). */
static double quota_in(const char *dir, int v2) {
  char path[PATH_MAX + 32], a[128], b[128];
  double cpus = 0;
  if (v2) {
    snprintf(path, sizeof path, "%s/cpu.max", dir);
    if (read_small(path, a, sizeof a) != 0 || cpus_parse_cpu_max(a, &cpus) != 0)
      return 0;
    return cpus;
  }
  snprintf(path, sizeof path, "%s/cpu.cfs_quota_us", dir);
  if (read_small(path, a, sizeof a) != 0)
    return 0;
  snprintf(path, sizeof path, "%s/cpu.cfs_period_us", dir);
  if (read_small(path, b, sizeof b) != 0 || cpus_parse_cfs(a, b, &cpus) != 0)
    return 0;
  return cpus;
}

/* The smallest quota on the way from the process's cgroup up to the mount
 * point: a limit may sit on a parent (a systemd slice, a Kubernetes pod).
 * Without a cgroup namespace the path names the host's hierarchy while the
 * container sees its own cgroup at the mount point: missing directories on
 * the way are skipped, and the mount point itself is always read. */
static double quota_walk(const char *mount, const char *cg, int v2) {
  char dir[PATH_MAX];
  int n = snprintf(dir, sizeof dir, "%s%s", mount, strcmp(cg, "/") == 0 ? "" : cg);
  if (n < 0 || (size_t)n >= sizeof dir)
    return 0;
  size_t floor_len = strlen(mount);
  double best = 0;
  for (;;) {
    double q = quota_in(dir, v2);
    if (q > 0 && (best == 0 || q < best))
      best = q;
    char *slash = strrchr(dir, '/');
    if (strlen(dir) <= floor_len || !slash || (size_t)(slash - dir) < floor_len)
      break;
    *slash = '\0';
  }
  return best;
}

static double quota_at(const char *root) {
  char text[4096], cg[PATH_MAX / 2], mount[PATH_MAX];
  snprintf(mount, sizeof mount, "%s/proc/self/cgroup", root);
  if (read_small(mount, text, sizeof text) != 0)
    return 0;
  double q = 0;
  if (cpus_cgroup_path(text, 1, cg, sizeof cg) == 0) {
    snprintf(mount, sizeof mount, "%s/sys/fs/cgroup", root);
    q = quota_walk(mount, cg, 1);
  }
  /* v1 (or hybrid, where the cpu controller stays on v1). */
  static const char *const v1_mounts[] = {"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"};
  if (q == 0 && cpus_cgroup_path(text, 0, cg, sizeof cg) == 0) {
    for (size_t i = 0; i < sizeof v1_mounts / sizeof v1_mounts[0] && q == 0; i++) {
      snprintf(mount, sizeof mount, "%s%s", root, v1_mounts[i]);
      q = quota_walk(mount, cg, 0);
    }
  }
  return q;
}

static long affinity_count(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0)
    return CPU_COUNT(&set);
  long online = sysconf(_SC_NPROCESSORS_ONLN);
  return online > 0 ? online : 1;
}

long cpus_available_at(const char *root) {
  return cpus_combine(affinity_count(), quota_at(root));
}

long cpus_available(void) { return cpus_available_at(""); }
