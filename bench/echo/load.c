/*
 * The load generator of bench/echo (Linux, epoll, one thread): raw TCP,
 * pre-built masked frames, no WebSocket library. A JavaScript generator
 * (load.ts) tops out near 90k messages/s with one message per read on this
 * machine, below what the servers do; this one costs the kernel's work and
 * little more, so the server is the limit. bench/echo.ts builds it with `cc -O2`.
 *
 * Commands, one per line on stdin, each answered by one JSON line on stdout:
 *
 *   echo <port> <conns> <inflight> <size> <binary 0|1> <warmup s> <duration s> [<server pid>]
 *   handshake <port> <parallel> <warmup s> <duration s> [<server pid>]
 *   idle <port> <conns>        (open, one echo each, keep open)
 *   release                    (close the idle connections)
 *   exit
 *
 * echo: every connection keeps <inflight> messages of <size> bytes in flight;
 * the server's echo of one is a frame of known length, so completed messages
 * are counted from the bytes received and replaced from a buffer of ready
 * frames (one write per read). Each answer carries "cpu", this process's CPU
 * time over the window as a fraction of one core, and, given the server's pid,
 * "server_cpu": the CPU seconds the server used in the window (from
 * /proc/<pid>/stat), which does not depend on how much of its core other
 * processes took.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

enum { CONNECTING, HEAD, OPEN, DONE };

typedef struct {
  int fd;
  int state;
  int want_out;
  int head_len;
  char head[2048];
  uint64_t received; /* frame bytes received */
  uint64_t owed;     /* frame bytes to write */
  uint64_t written;  /* frame bytes written */
} Conn;

static int ep;
static uint8_t *rbuf;
static const size_t RBUF = 1 << 20;
static char request[512];
static size_t request_len;
static const uint8_t MASK[4] = {0x37, 0xfa, 0x21, 0x3d};

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static double cpu_seconds(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6;
}

/* CPU seconds used so far by process `pid` (all threads), or -1. */
static double cpu_of(int pid) {
  if (pid <= 0) return -1;
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  if (f == NULL) return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  if (p == NULL) return -1;
  unsigned long long utime = 0, stime = 0;
  /* After ") ": state, then fields 4..13, then utime (14) and stime (15). */
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2) return -1;
  return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static void set_request(int port) {
  request_len = (size_t)snprintf(request, sizeof request,
                                 "GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                                 "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                 "Sec-WebSocket-Version: 13\r\n\r\n",
                                 port);
}

static size_t header_len(uint64_t size) { return size < 126 ? 2 : size < 65536 ? 4 : 10; }

/* A masked client frame with a `size`-byte payload of printable ASCII. */
static size_t client_frame(uint8_t *out, uint64_t size, int binary) {
  size_t h = header_len(size);
  out[0] = 0x80 | (binary ? 2 : 1);
  if (size < 126) {
    out[1] = 0x80 | (uint8_t)size;
  } else if (size < 65536) {
    out[1] = 0x80 | 126;
    out[2] = (uint8_t)(size >> 8);
    out[3] = (uint8_t)size;
  } else {
    out[1] = 0x80 | 127;
    for (int i = 0; i < 8; i++) out[2 + i] = (uint8_t)(size >> (56 - 8 * i));
  }
  memcpy(out + h, MASK, 4);
  uint8_t *p = out + h + 4;
  for (uint64_t i = 0; i < size; i++) p[i] = (uint8_t)(0x41 + i % 26) ^ MASK[i & 3];
  return h + 4 + size;
}

/* Starts a non-blocking connection; `source` (host order) binds a 127.x source address, 0 for none. */
static int open_conn(Conn *c, int port, uint32_t source) {
  memset(c, 0, sizeof *c);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (source != 0) {
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in src = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(source)};
    bind(fd, (struct sockaddr *)&src, sizeof src);
  }
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(0x7f000001)};
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  c->fd = fd;
  c->state = CONNECTING;
  c->want_out = 1;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  return 0;
}

static void want_out(Conn *c, int on) {
  if (c->want_out == on) return;
  c->want_out = on;
  struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void close_conn(Conn *c) {
  if (c->fd > 0) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
  }
  c->fd = -1;
  c->state = DONE;
}

/* The frames to send: (inflight + 1) copies of one frame, written from the running offset. */
static uint8_t *batch;
static size_t frame_len;
static uint64_t reply_len;
static uint64_t total_received;
static int failures;
/* Frame bytes each connection writes once open, and whether each echo is replaced by a new message. */
static uint64_t initial;
static int refill;

static void flush(Conn *c) {
  while (c->owed > 0) {
    size_t off = (size_t)(c->written % frame_len);
    ssize_t n = write(c->fd, batch + off, (size_t)c->owed);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        want_out(c, 1);
        return;
      }
      close_conn(c);
      failures++;
      return;
    }
    c->written += (uint64_t)n;
    c->owed -= (uint64_t)n;
  }
  want_out(c, 0);
}

/* Bytes after the 101 head, or the head's progress: returns the offset of frame bytes in rbuf, -1 if none yet, -2 on a bad answer. */
static ssize_t take_head(Conn *c, ssize_t n) {
  int room = (int)sizeof c->head - c->head_len;
  int copy = n < room ? (int)n : room;
  memcpy(c->head + c->head_len, rbuf, (size_t)copy);
  int old = c->head_len;
  c->head_len += copy;
  for (int i = old > 3 ? old - 3 : 0; i + 3 < c->head_len; i++) {
    if (c->head[i] == '\r' && c->head[i + 1] == '\n' && c->head[i + 2] == '\r' && c->head[i + 3] == '\n') {
      if (strncmp(c->head, "HTTP/1.1 101", 12) != 0) return -2;
      return (ssize_t)(i + 4 - old);
    }
  }
  if (c->head_len == (int)sizeof c->head) return -2;
  return -1;
}

/* One event of an echo connection (also used for idle ones). */
static void on_echo_event(Conn *c, uint32_t events) {
  if (c->state == CONNECTING) {
    if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0 || write(c->fd, request, request_len) != (ssize_t)request_len) {
      close_conn(c);
      failures++;
      return;
    }
    c->state = HEAD;
    want_out(c, 0);
    return;
  }
  if ((events & EPOLLOUT) && c->state == OPEN) flush(c);
  if (!(events & (EPOLLIN | EPOLLERR | EPOLLHUP))) return;
  for (;;) {
    ssize_t n = read(c->fd, rbuf, RBUF);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
      close_conn(c);
      failures++;
      return;
    }
    ssize_t at = 0;
    if (c->state == HEAD) {
      at = take_head(c, n);
      if (at == -1) continue;
      if (at == -2) {
        close_conn(c);
        failures++;
        return;
      }
      c->state = OPEN;
      c->owed = initial;
      flush(c);
      if (c->state != OPEN) return;
    }
    uint64_t got = (uint64_t)(n - at);
    uint64_t before = c->received;
    c->received += got;
    total_received += got;
    uint64_t done = c->received / reply_len - before / reply_len;
    if (done > 0 && refill) {
      c->owed += done * frame_len;
      flush(c);
      if (c->state != OPEN) return;
    }
    if ((size_t)n < RBUF) return;
  }
}

static void run_echo_until(double deadline) {
  struct epoll_event events[256];
  for (;;) {
    double left = deadline - now();
    if (left <= 0) return;
    int n = epoll_wait(ep, events, 256, (int)(left * 1000) + 1);
    for (int i = 0; i < n; i++) on_echo_event(events[i].data.ptr, events[i].events);
  }
}

static void sleep_s(double s) {
  struct timespec t = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (time_t)s) * 1e9)};
  nanosleep(&t, NULL);
}

/* Opens `count` connections, at most 64 connecting at once; returns how many opened. */
static int open_all(Conn *conns, int count, int port, double timeout) {
  int started = 0;
  double deadline = now() + timeout;
  struct epoll_event events[256];
  for (;;) {
    int open = 0, failed = 0;
    for (int i = 0; i < started; i++) {
      if (conns[i].state == OPEN) open++;
      else if (conns[i].state == DONE) failed++;
    }
    int pending = started - open - failed;
    if (started == count && pending == 0) return open;
    while (started < count && pending < 64) {
      if (open_conn(&conns[started], port, 0) < 0) conns[started].state = DONE, conns[started].fd = -1, failures++;
      else pending++;
      started++;
    }
    if (now() > deadline) return open;
    int n = epoll_wait(ep, events, 256, 50);
    for (int i = 0; i < n; i++) on_echo_event(events[i].data.ptr, events[i].events);
  }
}

static void cmd_echo(int port, int nconns, int inflight, uint64_t size, int binary, double warmup, double duration,
                     int pid) {
  set_request(port);
  uint8_t *one = malloc(header_len(size) + 4 + size);
  frame_len = client_frame(one, size, binary);
  batch = malloc(frame_len * (size_t)(inflight + 1));
  for (int i = 0; i <= inflight; i++) memcpy(batch + frame_len * (size_t)i, one, frame_len);
  free(one);
  reply_len = header_len(size) + size;
  total_received = 0;
  failures = 0;
  Conn *conns = calloc((size_t)nconns, sizeof(Conn));
  initial = frame_len * (uint64_t)inflight;
  refill = 1;
  int open = open_all(conns, nconns, port, 10);
  if (open < nconns) {
    printf("{\"ok\":false,\"error\":\"only %d of %d connections opened\"}\n", open, nconns);
  } else {
    run_echo_until(now() + warmup);
    uint64_t r0 = total_received;
    double c0 = cpu_seconds(), s0 = cpu_of(pid), t0 = now();
    run_echo_until(t0 + duration);
    uint64_t bytes = total_received - r0;
    double seconds = now() - t0, cpu = cpu_seconds() - c0, server = cpu_of(pid) - s0;
    printf("{\"ok\":true,\"messages\":%.1f,\"bytes\":%llu,\"seconds\":%.4f,\"cpu\":%.3f,\"server_cpu\":%.3f,"
           "\"failures\":%d}\n",
           (double)bytes / (double)reply_len, (unsigned long long)bytes, seconds, cpu / seconds, pid > 0 ? server : -1,
           failures);
  }
  fflush(stdout);
  for (int i = 0; i < nconns; i++) close_conn(&conns[i]);
  free(conns);
  free(batch);
  batch = NULL;
  sleep_s(0.15); /* let the server drop them before the next run */
}

static void cmd_handshake(int port, int parallel, double warmup, double duration, int pid) {
  set_request(port);
  Conn *slots = calloc((size_t)parallel, sizeof(Conn));
  uint64_t count = 0, failed = 0;
  uint32_t source = 0;
  /* Sources 127.0.0.2–127.0.0.251, rotating: each has its own ephemeral ports,
     so closed connections in TIME_WAIT never run the port range out. */
  for (int i = 0; i < parallel; i++) open_conn(&slots[i], port, 0x7f000002 + (source++ % 250));
  struct epoll_event events[256];
  double t_warm = now() + warmup, t_end = t_warm + duration;
  uint64_t c0 = 0;
  double cpu0 = 0, t0 = 0, s0 = 0;
  int measuring = 0;
  for (;;) {
    double t = now();
    if (!measuring && t >= t_warm) {
      measuring = 1;
      c0 = count;
      cpu0 = cpu_seconds();
      s0 = cpu_of(pid);
      t0 = t;
    }
    if (t >= t_end) break;
    int n = epoll_wait(ep, events, 256, 10);
    for (int i = 0; i < n; i++) {
      Conn *c = events[i].data.ptr;
      int finished = 0;
      if (c->state == CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0 || write(c->fd, request, request_len) != (ssize_t)request_len) {
          failed++;
          finished = 1;
        } else {
          c->state = HEAD;
          want_out(c, 0);
        }
      } else if (c->state == HEAD) {
        ssize_t r = read(c->fd, rbuf, RBUF);
        if (r < 0 && errno == EAGAIN) continue;
        if (r <= 0) {
          failed++;
          finished = 1;
        } else {
          ssize_t at = take_head(c, r);
          if (at >= 0) count++, finished = 1;
          else if (at == -2) failed++, finished = 1;
        }
      }
      if (finished) {
        close_conn(c);
        open_conn(c, port, 0x7f000002 + (source++ % 250));
      }
    }
  }
  double seconds = now() - t0, cpu = cpu_seconds() - cpu0, server = cpu_of(pid) - s0;
  for (int i = 0; i < parallel; i++) close_conn(&slots[i]);
  free(slots);
  printf("{\"ok\":true,\"handshakes\":%llu,\"failed\":%llu,\"seconds\":%.4f,\"cpu\":%.3f,\"server_cpu\":%.3f}\n",
         (unsigned long long)(count - c0), (unsigned long long)failed, seconds, cpu / seconds, pid > 0 ? server : -1);
  fflush(stdout);
  sleep_s(0.3);
}

static Conn *idle;
static int idle_count;

static void cmd_idle(int port, int nconns) {
  set_request(port);
  uint8_t one[64];
  frame_len = client_frame(one, 16, 0);
  batch = malloc(frame_len * 2);
  memcpy(batch, one, frame_len);
  memcpy(batch + frame_len, one, frame_len);
  reply_len = header_len(16) + 16;
  failures = 0;
  idle = calloc((size_t)nconns, sizeof(Conn));
  idle_count = nconns;
  initial = frame_len; /* one message each, not replaced */
  refill = 0;
  int open = open_all(idle, nconns, port, 30);
  /* Wait for every echo: received >= reply_len. */
  double deadline = now() + 30;
  struct epoll_event events[256];
  for (;;) {
    int echoed = 0;
    for (int i = 0; i < nconns; i++) echoed += idle[i].state == OPEN && idle[i].received >= reply_len;
    if (echoed == open || now() > deadline) {
      for (int i = 0; i < nconns; i++) {
        if (idle[i].fd > 0) epoll_ctl(ep, EPOLL_CTL_DEL, idle[i].fd, NULL);
      }
      printf("{\"ok\":%s,\"open\":%d,\"echoed\":%d}\n", open == nconns && echoed == open ? "true" : "false", open,
             echoed);
      break;
    }
    int n = epoll_wait(ep, events, 256, 50);
    for (int i = 0; i < n; i++) on_echo_event(events[i].data.ptr, events[i].events);
  }
  fflush(stdout);
}

static void cmd_release(void) {
  int n = 0;
  for (int i = 0; i < idle_count; i++) {
    if (idle[i].fd > 0) close(idle[i].fd), n++;
  }
  free(idle);
  idle = NULL;
  idle_count = 0;
  free(batch);
  batch = NULL;
  sleep_s(0.3);
  printf("{\"ok\":true,\"closed\":%d}\n", n);
  fflush(stdout);
}

int main(void) {
  ep = epoll_create1(EPOLL_CLOEXEC);
  rbuf = malloc(RBUF);
  printf("{\"ok\":true,\"ready\":true,\"sockets\":\"epoll (C)\"}\n");
  fflush(stdout);
  char line[512];
  while (fgets(line, sizeof line, stdin)) {
    char op[32];
    int port, a, b, binary, pid = 0;
    unsigned long long size;
    double warmup, duration;
    if (sscanf(line, "%31s", op) != 1) continue;
    if (strcmp(op, "echo") == 0 &&
        sscanf(line, "%*s %d %d %d %llu %d %lf %lf %d", &port, &a, &b, &size, &binary, &warmup, &duration, &pid) >= 7) {
      cmd_echo(port, a, b, size, binary, warmup, duration, pid);
    } else if (strcmp(op, "handshake") == 0 &&
               sscanf(line, "%*s %d %d %lf %lf %d", &port, &a, &warmup, &duration, &pid) >= 4) {
      cmd_handshake(port, a, warmup, duration, pid);
    } else if (strcmp(op, "idle") == 0 && sscanf(line, "%*s %d %d", &port, &a) == 2) {
      cmd_idle(port, a);
    } else if (strcmp(op, "release") == 0) {
      cmd_release();
    } else if (strcmp(op, "exit") == 0) {
      break;
    } else {
      printf("{\"ok\":false,\"error\":\"bad command\"}\n");
      fflush(stdout);
    }
  }
  return 0;
}
