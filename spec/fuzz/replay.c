/*
** spec/fuzz/replay.c -- runs a fuzz harness without libFuzzer: the main of
** build/<cfg>/tests/test_fuzz_<reader>, built by `make test` (and under the
** sanitizers by `make check`) from this file and spec/fuzz/fuzz_<reader>.c.
** Owns: feeding the harness every file of spec/fuzz/corpus/<reader>/ and
** spec/fuzz/regressions/<reader>/ (or the files named on the command line),
** one call each, as libFuzzer would, and the summary line the test runner
** reads ("fuzz_<reader>: N passed, 0 failed"). A harness that crashes or
** fails its checks kills the process, which the runner reports.
** FUZZ_NAME and FUZZ_ROOT come from the Makefile.
*/
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int by_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void run_file(const char *path, long *count) {
  FILE *fp = fopen(path, "rb");
  uint8_t *buf;
  long n;
  if (!fp) { fprintf(stderr, "cannot open '%s'\n", path); exit(1); }
  fseek(fp, 0, SEEK_END);
  n = ftell(fp);
  rewind(fp);
  buf = malloc(n > 0 ? (size_t)n : 1);
  if (!buf || (n > 0 && fread(buf, 1, (size_t)n, fp) != (size_t)n)) {
    fprintf(stderr, "cannot read '%s'\n", path);
    exit(1);
  }
  fclose(fp);
  LLVMFuzzerTestOneInput(buf, (size_t)n);
  free(buf);
  (*count)++;
}

/* Every regular file of dir, in name order (a missing folder holds none). */
static void run_dir(const char *dir, long *count) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char **names = NULL, path[4096];
  size_t n = 0, cap = 0, i;
  if (!d) return;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 64;
      names = realloc(names, cap * sizeof *names);
      if (!names) { fprintf(stderr, "out of memory\n"); exit(1); }
    }
    names[n++] = strdup(e->d_name);
  }
  closedir(d);
  if (n) qsort(names, n, sizeof *names, by_str);
  for (i = 0; i < n; i++) {
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) run_file(path, count);
    free(names[i]);
  }
  free(names);
}

int main(int argc, char **argv) {
  long count = 0;
  int i;
  char dir[4096];
  if (argc > 1) {
    for (i = 1; i < argc; i++) run_file(argv[i], &count);
  } else {
    snprintf(dir, sizeof dir, "%s/corpus/%s", FUZZ_ROOT, FUZZ_NAME);
    run_dir(dir, &count);
    snprintf(dir, sizeof dir, "%s/regressions/%s", FUZZ_ROOT, FUZZ_NAME);
    run_dir(dir, &count);
  }
  printf("fuzz_%s: %ld passed, 0 failed\n", FUZZ_NAME, count);
  return 0;
}
