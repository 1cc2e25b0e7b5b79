/*
 * The CNI plugin executable of flannel-ts (one build per plugin, scripts/build-cni.mjs): hands the
 * request (its whole environment and the config on stdin) to flannel-cni-daemon over a unix socket
 * and prints the answer (stderr, stdout, exit status) as the plugin would have; when no daemon
 * answers, it runs the plugin's Node entry point itself, with the same stdin. The wire format is in
 * cni/daemon-codec.ts.
 *
 * Why C: the whole point is not to start Node (about 90 ms) on the hot path, and a shell script
 * would need socat or busybox nc to talk to a unix socket and could not frame binary safely; a
 * libc-only C program starts in about a millisecond and cc is already on the build host.
 *
 * Falling back is safe because of the 'R'/'G' handshake: the daemon runs nothing until it reads 'G',
 * and the shim only falls back before sending it. After 'G' a lost answer is reported as a CNI error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#ifndef PLUGIN_NAME
#error PLUGIN_NAME must be defined (e.g. -DPLUGIN_NAME='"flannel"')
#endif
#ifndef PLUGIN_ENTRY
#error PLUGIN_ENTRY must be defined (the file name of the entry point, next to this executable)
#endif
#ifndef BAKED_ENTRY
#error BAKED_ENTRY must be defined (the absolute path of the entry point at build time)
#endif
#ifndef NODE_BIN
#define NODE_BIN "/usr/bin/node"
#endif

#define DEFAULT_SOCKET "/run/flannel/cni.sock"
#define MAX_FRAME (16u * 1024u * 1024u)
/* Until 'R': a daemon that has not answered by then is treated as absent. */
#define READY_TIMEOUT_MS 5000
/* After 'G': the plugin's own delegates are bounded (two minutes each), this bounds the rest. */
#define ANSWER_TIMEOUT_MS (300 * 1000)

extern char **environ;

struct buf {
  unsigned char *p;
  size_t n, cap;
};

static int put(struct buf *b, const void *d, size_t n) {
  if (b->n + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + n) cap *= 2;
    unsigned char *p = realloc(b->p, cap);
    if (!p) return -1;
    b->p = p;
    b->cap = cap;
  }
  if (n) memcpy(b->p + b->n, d, n);
  b->n += n;
  return 0;
}

static int put_u32(struct buf *b, uint32_t v) {
  unsigned char x[4] = {v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >> 24) & 0xff};
  return put(b, x, 4);
}

static int put_u64(struct buf *b, uint64_t v) {
  return put_u32(b, (uint32_t)(v & 0xffffffffu)) || put_u32(b, (uint32_t)(v >> 32));
}

static int put_str(struct buf *b, const void *p, size_t n) {
  return n > MAX_FRAME || put_u32(b, (uint32_t)n) || put(b, p, n);
}

static uint32_t get_u32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static long long now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Waits until fd is ready for `events` or the deadline passes: 0 ready, -1 not. */
static int wait_fd(int fd, short events, long long deadline) {
  for (;;) {
    long long left = deadline - now_ms();
    if (left <= 0) return -1;
    struct pollfd p = {.fd = fd, .events = events};
    int r = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
    if (r > 0) return 0;
    if (r < 0 && errno != EINTR) return -1;
  }
}

static int send_all(int fd, const unsigned char *p, size_t n, long long deadline) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w > 0) {
      p += w;
      n -= (size_t)w;
    } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (wait_fd(fd, POLLOUT, deadline)) return -1;
    } else {
      return -1;
    }
  }
  return 0;
}

/* Reads exactly n bytes: 0 done, -1 on error, EOF or timeout. */
static int recv_all(int fd, unsigned char *p, size_t n, long long deadline) {
  while (n > 0) {
    ssize_t r = recv(fd, p, n, 0);
    if (r > 0) {
      p += r;
      n -= (size_t)r;
    } else if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (wait_fd(fd, POLLIN, deadline)) return -1;
    } else {
      return -1;
    }
  }
  return 0;
}

static int write_fd_all(int fd, const unsigned char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w > 0) {
      p += w;
      n -= (size_t)w;
    } else if (w < 0 && errno == EINTR) {
      continue;
    } else {
      return -1;
    }
  }
  return 0;
}

static int read_stdin(struct buf *b) {
  unsigned char chunk[65536];
  for (;;) {
    ssize_t r = read(0, chunk, sizeof chunk);
    if (r == 0) return 0;
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (b->n + (size_t)r > MAX_FRAME / 2 || put(b, chunk, (size_t)r)) return -1;
  }
}

static int ns_id(const char *kind, struct buf *b) {
  char path[64];
  struct stat st;
  snprintf(path, sizeof path, "/proc/self/ns/%s", kind);
  if (stat(path, &st)) return -1;
  return put_u64(b, (uint64_t)st.st_dev) || put_u64(b, (uint64_t)st.st_ino);
}

static void cni_error(const char *msg, const char *details) {
  /* msg and details are ours, without quotes or backslashes: no JSON escaping needed. */
  printf("{\n    \"cniVersion\": \"1.0.0\",\n    \"code\": 999,\n    \"msg\": \"%s\",\n    \"details\": \"%s\"\n}\n", msg, details);
  fflush(stdout);
}

enum outcome { ANSWERED, FALL_BACK, LOST };

static enum outcome via_daemon(const char *sock_path, const struct buf *in, int *exit_code) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(sock_path) >= sizeof addr.sun_path) return FALL_BACK;
  strcpy(addr.sun_path, sock_path);

  struct buf req = {0};
  size_t nenv = 0;
  for (char **e = environ; *e; e++) nenv++;
  int bad = put_u32(&req, 0) || put(&req, "FCNI", 4) || put(&req, "\x01", 1) || ns_id("net", &req) || ns_id("mnt", &req) ||
            put_str(&req, PLUGIN_NAME, strlen(PLUGIN_NAME)) || put_u32(&req, (uint32_t)nenv);
  for (char **e = environ; !bad && *e; e++) bad = put_str(&req, *e, strlen(*e));
  bad = bad || put_str(&req, in->p, in->n) || req.n - 4 > MAX_FRAME;
  if (bad) {
    free(req.p);
    return FALL_BACK;
  }
  uint32_t body = (uint32_t)(req.n - 4);
  unsigned char len[4] = {body & 0xff, (body >> 8) & 0xff, (body >> 16) & 0xff, (body >> 24) & 0xff};
  memcpy(req.p, len, 4);

  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    free(req.p);
    return FALL_BACK;
  }
  long long deadline = now_ms() + READY_TIMEOUT_MS;
  unsigned char ready = 0;
  /* A unix connect does not go in progress: it connects, or fails (absent, refused, backlog full). */
  int ok = connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0 && send_all(fd, req.p, req.n, deadline) == 0 &&
           recv_all(fd, &ready, 1, deadline) == 0 && ready == 'R';
  free(req.p);
  if (!ok) {
    close(fd);
    return FALL_BACK;
  }
  if (send_all(fd, (const unsigned char *)"G", 1, deadline)) {
    /* Whether the daemon read the 'G' is unknown: it may be running the plugin. */
    close(fd);
    return LOST;
  }

  deadline = now_ms() + ANSWER_TIMEOUT_MS;
  unsigned char head[4];
  if (recv_all(fd, head, 4, deadline)) {
    close(fd);
    return LOST;
  }
  uint32_t n = get_u32(head);
  unsigned char *resp = n >= 12 && n <= MAX_FRAME ? malloc(n) : NULL;
  if (!resp || recv_all(fd, resp, n, deadline)) {
    free(resp);
    close(fd);
    return LOST;
  }
  close(fd);
  uint32_t code = get_u32(resp);
  uint32_t out_n = get_u32(resp + 4);
  if (out_n > n - 12 || get_u32(resp + 8 + out_n) != n - 12 - out_n) {
    free(resp);
    return LOST;
  }
  uint32_t err_n = n - 12 - out_n;
  /* A plugin's stderr is written while it runs, its stdout at the end: the same order here. */
  if (err_n) write_fd_all(2, resp + 12 + out_n, err_n);
  if (out_n) write_fd_all(1, resp + 8, out_n);
  free(resp);
  *exit_code = (int)(int32_t)code;
  return ANSWERED;
}

/* The plugin's stdin again, for the Node process: a memfd (no size limit), else a pipe if it fits. */
static int restore_stdin(const struct buf *in) {
  int fd = memfd_create("cni-stdin", 0);
  if (fd >= 0) {
    if (write_fd_all(fd, in->p, in->n) || lseek(fd, 0, SEEK_SET) != 0 || dup2(fd, 0) < 0) return -1;
    close(fd);
    return 0;
  }
  int p[2];
  if (pipe(p)) return -1;
  if (in->n > 65536 || write_fd_all(p[1], in->p, in->n) || dup2(p[0], 0) < 0) return -1;
  close(p[0]);
  close(p[1]);
  return 0;
}

static void run_node(int argc, char **argv) {
  char self[PATH_MAX], js[PATH_MAX + sizeof PLUGIN_ENTRY];
  const char *entry = BAKED_ENTRY;
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (slash) {
      *slash = 0;
      snprintf(js, sizeof js, "%s/%s", self, PLUGIN_ENTRY);
      if (access(js, R_OK) == 0) entry = js;
    }
  }
  char **args = calloc((size_t)argc + 2, sizeof *args);
  if (!args) return;
  args[0] = "node";
  args[1] = (char *)entry;
  for (int i = 1; i < argc; i++) args[i + 1] = argv[i];
  if (access(NODE_BIN, X_OK) == 0) execv(NODE_BIN, args);
  execvp("node", args);
}

static int stdin_command(const char *cmd) {
  static const char *const with[] = {"ADD", "DEL", "CHECK", "GC", "STATUS"};
  for (size_t i = 0; i < sizeof with / sizeof *with; i++)
    if (strcmp(cmd, with[i]) == 0) return 1;
  return 0;
}

int main(int argc, char **argv) {
  const char *cmd = getenv("CNI_COMMAND");
  /* VERSION and the no-command banner do not read stdin, as the plugin does not: a probe from a terminal must not hang. */
  int has_stdin = cmd && stdin_command(cmd);
  struct buf in = {0};
  if (has_stdin && read_stdin(&in)) {
    cni_error("error reading from stdin", PLUGIN_NAME " shim");
    return 1;
  }
  const char *sock = getenv("FLANNEL_CNI_SOCKET");
  if (!sock) sock = DEFAULT_SOCKET;
  if (*sock) { /* FLANNEL_CNI_SOCKET= (empty) turns the daemon off */
    int code = 1;
    switch (via_daemon(sock, &in, &code)) {
      case ANSWERED:
        return code;
      case LOST:
        cni_error("lost the answer of flannel-cni-daemon", "the request was handed over, its outcome is unknown: retry");
        return 1;
      case FALL_BACK:
        break;
    }
  }
  if (has_stdin && restore_stdin(&in)) {
    cni_error("cannot hand stdin to the Node plugin", PLUGIN_NAME " shim");
    return 1;
  }
  free(in.p);
  run_node(argc, argv);
  cni_error("node not found: the " PLUGIN_NAME " CNI plugin needs Node.js 20", NODE_BIN " and PATH");
  return 1;
}
